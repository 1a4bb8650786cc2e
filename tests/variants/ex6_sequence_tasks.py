"""Exercise 6, written differently: the head by einsum on its weight, N vs 1 from output's two ends, decoding one
step at a time everywhere (teacher forcing included), tokens by the largest softmax probability, the shift by roll."""
from typing import Optional, Tuple, Union

import torch
from torch import Tensor, nn

State = Union[Tensor, Tuple[Tensor, Tensor]]


def _apply_head(head: nn.Linear, y: Tensor) -> Tensor:
    scores = torch.einsum("...k,ck->...c", y, head.weight)
    return scores if head.bias is None else scores + head.bias


def tag_steps(rnn: nn.RNNBase, head: nn.Linear, x: Tensor, hx: Optional[State] = None) -> Tensor:
    return _apply_head(head, rnn(x, hx)[0])


def final_features(h_n: Tensor, bidirectional: bool) -> Tensor:
    directions = 2 if bidirectional else 1
    layers, batch, hidden = h_n.shape[0] // directions, h_n.shape[1], h_n.shape[2]
    last = h_n.reshape(layers, directions, batch, hidden)[layers - 1]
    return torch.stack(list(last), dim=1).flatten(1)


def classify_sequence(rnn: nn.RNNBase, head: nn.Linear, x: Tensor, hx: Optional[State] = None) -> Tensor:
    # The last layer's outputs hold its final states: the forward one at the last step, the backward one at the first.
    output, _ = rnn(x, hx)
    if not rnn.bidirectional:
        return _apply_head(head, output[-1])
    hidden = output.shape[2] // 2
    return _apply_head(head, torch.cat([output[-1, :, :hidden], output[0, :, hidden:]], dim=-1))


def _decode(rnn: nn.RNNBase, head: nn.Linear, first_input: Tensor, steps: int, hx: Optional[State],
            next_input) -> Tensor:
    state, step_input, logits = hx, first_input, []
    for t in range(steps):
        output, state = rnn(step_input[None], state)
        logits.append(_apply_head(head, output[0]))
        step_input = next_input(t, logits[-1])
    return torch.stack(logits, dim=0)


def generate(rnn: nn.RNNBase, embedding: nn.Embedding, head: nn.Linear, first_input: Tensor, steps: int,
             hx: Optional[State] = None) -> Tensor:
    def predicted(t: int, step_logits: Tensor) -> Tensor:
        return embedding.weight[torch.softmax(step_logits, dim=-1).max(dim=-1).indices]
    return _decode(rnn, head, first_input, steps, hx, predicted)


def shift_right(target: Tensor, start_token: int) -> Tensor:
    shifted = target.roll(1, dims=0)
    shifted[0] = start_token
    return shifted


def seq2seq(encoder: nn.RNNBase, decoder: nn.RNNBase, embedding: nn.Embedding, head: nn.Linear, source: Tensor,
            target: Tensor, start_token: int, teacher_forcing: bool = True) -> Tensor:
    state = encoder(source)[1]
    first = embedding(torch.full_like(target[0], start_token))
    if not teacher_forcing:
        return generate(decoder, embedding, head, first, len(target), state)
    return _decode(decoder, head, first, len(target), state, lambda t, _: embedding(target[t]))
