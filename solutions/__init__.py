"""Reference solutions for the recurrent-network exercises (same API as ``exercises``).

循环神经网络练习的参考答案（接口与 ``exercises`` 完全相同）。
"""
