"""Learner exercises: recurrent neural networks from scratch in PyTorch.

学员练习：用 PyTorch 从零实现循环神经网络。

Edit ``ex1_rnn_cell.py`` ... ``ex6_sequence_tasks.py``; ``modules.py`` is ready-made.
请编辑 ``ex1_rnn_cell.py`` …… ``ex6_sequence_tasks.py``；``modules.py`` 已写好，无需修改。
"""
