"""Hand-made models with known rewards and values, for teaching and testing the search.

They speak the model interface of `networks.EZModel` (initial, recurrent,
scalar_value, scalar_reward, scalar_value_reward, initial_hidden) but predict exact numbers set by
hand, so a search over them has answers that can be computed on paper:
`BanditModel` is a one-step bandit (discrete or continuous), `ChainPrefixModel`
a one-action chain with a value-prefix "LSTM" that sums rewards.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ..envs import EnvSpec
from .networks import ModelOutput


class BanditModel(nn.Module):
    """A known-reward model: the first action a earns rewards[a]; later actions earn `deep_reward`.

    The latent is (depth, first action). Values are `value` everywhere (the root: `root_value`).
    Policy logits are `prior_logits` at every node. Scalars travel in column 0 of the "logits".
    Continuous variant: the reward of the first action vector x is `reward_fn(x)`.
    """

    value_prefix = False
    lstm_horizon = 5

    def __init__(
        self,
        rewards=None,
        prior_logits=None,
        value=0.0,
        root_value=0.0,
        deep_reward=0.0,
        action_dim=None,
        reward_fn=None,
        mu=0.0,
        sigma=1.0,
    ):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        if action_dim is None:
            self.rewards = torch.as_tensor(rewards, dtype=torch.float32)
            n = len(rewards)
            self.prior = torch.as_tensor(
                prior_logits if prior_logits is not None else np.zeros(n), dtype=torch.float32
            )
            self.spec = EnvSpec((1,), "float32", "discrete", n, None, 1, 1)
        else:
            self.reward_fn = reward_fn
            self.spec = EnvSpec((1,), "float32", "continuous", None, action_dim, 1, 1)
            raw_mu = 5 * np.arctanh(np.clip(mu / 5, -0.999, 0.999))
            raw_sigma = np.log(np.expm1(sigma - 0.1)) - 1  # inverse of softplus(x + 1) + 0.1
            self.prior = torch.tensor(
                [raw_mu] * action_dim + [raw_sigma] * action_dim, dtype=torch.float32
            )
        self.value, self.root_value, self.deep_reward = value, root_value, deep_reward

    def _out(self, latent, value, reward=None):
        b = latent.shape[0]
        policy = self.prior.expand(b, -1).clone()
        v = torch.full((b, 1), float(value))
        r = None if reward is None else reward[:, None]
        return ModelOutput(latent, v, policy, r, None)

    def initial(self, obs):
        b = obs.shape[0]
        return self._out(torch.zeros(b, 2), self.root_value)

    def recurrent(self, latent, action, hidden=None):
        depth = latent[:, 0]
        if self.spec.is_discrete:
            first = torch.where(depth == 0, action.float(), latent[:, 1])
            reward = torch.where(
                depth == 0, self.rewards[action.long()], torch.tensor(self.deep_reward)
            )
        else:
            first = torch.zeros_like(depth)
            reward = torch.where(depth == 0, self.reward_fn(action), torch.tensor(self.deep_reward))
        return self._out(torch.stack([depth + 1, first], 1), self.value, reward)

    def initial_hidden(self, batch, device):
        return None

    def scalar_value(self, logits):
        return logits[:, 0]

    def scalar_value_reward(self, out: ModelOutput) -> torch.Tensor:
        return torch.stack(
            [self.scalar_value(out.value_logits), self.scalar_reward(out.reward_logits)]
        ).double()

    def scalar_reward(self, logits):
        return logits[:, 0]


class ChainPrefixModel(BanditModel):
    """One action; the reward at depth d is rewards[d-1]. A value-prefix "LSTM" whose hidden
    state h is the sum of rewards since the last reset, and whose output is h + r."""

    value_prefix = True

    def __init__(self, rewards):
        super().__init__(rewards=[0.0], value=0.0)
        self.chain = torch.as_tensor(rewards, dtype=torch.float32)

    def recurrent(self, latent, action, hidden=None):
        depth = latent[:, 0] + 1
        r = self.chain[depth.long() - 1]
        prefix = hidden[0][:, 0] + r
        out = self._out(torch.stack([depth, latent[:, 1]], 1), self.value, prefix)
        new_hidden = prefix[:, None].expand(-1, 2).contiguous()
        out.hidden = (new_hidden, new_hidden.clone())
        return out

    def initial_hidden(self, batch, device):
        zeros = torch.zeros(batch, 2)
        return zeros, zeros.clone()
