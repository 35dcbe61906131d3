"""出站发送：每个平台一个 Sender，接口相同（bot/senders/base.py）。"""
