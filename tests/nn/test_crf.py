import itertools

import pytest
import torch

from graphmner.nn.crf import CRF, FORBIDDEN


def path_score(crf: CRF, emissions: torch.Tensor, path: list[int]) -> torch.Tensor:
    c = crf.crf
    score = c.start_transitions[path[0]] + emissions[0, path[0]]
    for prev, cur, t in zip(path, path[1:], range(1, len(path))):
        score = score + c.transitions[prev, cur] + emissions[t, cur]
    return score + c.end_transitions[path[-1]]


def test_hand_checked_viterbi():
    crf = CRF(num_tags=2)
    with torch.no_grad():
        for p in crf.parameters():
            p.zero_()
    emissions = torch.tensor([[[1.0, 0.0], [0.0, 1.5], [1.0, 0.0]]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    # free transitions: the best path takes each word's best tag
    assert crf.decode(emissions, mask) == [[0, 1, 0]]
    # switching costs 5: staying in tag 0 (score 2) beats 0,1,0 (2.5 - 10) and 1,1,1 (1.5)
    with torch.no_grad():
        crf.crf.transitions.copy_(torch.tensor([[0.0, -5.0], [-5.0, 0.0]]))
    assert crf.decode(emissions, mask) == [[0, 0, 0]]


def test_viterbi_and_loss_match_brute_force():
    torch.manual_seed(0)
    crf = CRF(num_tags=3)
    emissions = torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    tags = torch.tensor([[0, 2, 1, 1], [2, 0, 0, 0]])
    decoded = crf.decode(emissions, mask)
    losses = []
    for b in range(2):
        n = int(mask[b].sum())
        scores = {p: path_score(crf, emissions[b], list(p)) for p in itertools.product(range(3), repeat=n)}
        assert tuple(decoded[b]) == max(scores, key=lambda p: scores[p].item())
        log_z = torch.logsumexp(torch.stack(list(scores.values())), 0)
        losses.append(log_z - scores[tuple(tags[b, :n].tolist())])
    assert crf.loss(emissions, tags, mask).item() == pytest.approx(torch.stack(losses).mean().item(), abs=1e-4)


def test_iob2_forbidden_transitions():
    tags = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    crf = CRF(tags)
    t = crf.crf.transitions
    assert t[0, 2] == FORBIDDEN and t[3, 2] == FORBIDDEN and t[4, 2] == FORBIDDEN  # O/B-PER/I-PER -> I-LOC
    assert t[1, 2] != FORBIDDEN and t[2, 2] != FORBIDDEN  # B-LOC/I-LOC -> I-LOC
    assert crf.crf.start_transitions[2] == FORBIDDEN and crf.crf.start_transitions[1] != FORBIDDEN
    # even emissions that favour a stray I- tag decode to a valid sequence
    emissions = torch.zeros(1, 3, 5)
    emissions[0, :, 2] = 10.0
    emissions[0, 0, 0] = 9.0
    path = crf.decode(emissions, torch.ones(1, 3, dtype=torch.bool))[0]
    assert [tags[i] for i in path] == ["B-LOC", "I-LOC", "I-LOC"]


def test_shapes_and_gradient():
    crf = CRF(["O", "B-X", "I-X"])
    emissions = torch.randn(4, 6, 3, requires_grad=True)
    mask = torch.ones(4, 6, dtype=torch.bool)
    mask[1, 3:] = False
    loss = crf.loss(emissions, torch.zeros(4, 6, dtype=torch.long), mask)
    assert loss.ndim == 0 and loss.item() > 0
    loss.backward()
    assert emissions.grad.shape == (4, 6, 3)
    assert [len(p) for p in crf.decode(emissions, mask)] == [6, 3, 6, 6]
