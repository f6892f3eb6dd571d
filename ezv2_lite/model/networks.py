"""The EfficientZero V2 networks (paper §3; docs/algorithm.md §1).

A model has six parts, used in two calls:

    initial(obs)                      s0 = representation(obs); value, policy = heads(s0)
    recurrent(s, a, hidden)           s' = dynamics(s, a); reward (or value prefix),
                                      value, policy = heads(s')
    project(s, with_head)             SimSiam-style projection for the consistency loss

Two families share that interface:

- `ImageModel` (Atari, DMC pixels, MinAtar; docs/algorithm.md §1.2): a residual convolutional
  encoder that halves each side twice by stride and twice by pooling (`model.downsample=16`:
  96 px -> 6x6, 64 px -> 4x4: any input size works), or by stride only (4) or not at all (1,
  MinAtar's 10x10 grids of game cells), dynamics that embed the
  action as planes, and an LSTM *value prefix* head for Atari.
- `StateModel` (DMC state, CartPole; docs/algorithm.md §1.3): pre-LayerNorm residual
  MLPs over a 128-d latent, with a running observation normaliser.

Shapes: B = batch; obs [B, C*stack, H, W] uint8 or [B, D*stack] float32;
discrete actions [B] int64, continuous actions [B, A] float32; latent
[B, C, h, w] or [B, latent_dim]; value / reward logits [B, bins]; policy
[B, |A|] logits or [B, 2A] raw Gaussian parameters (see `policy.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import Config
from ..envs import EnvSpec
from .support import Support, h_inv

Hidden = tuple[torch.Tensor, torch.Tensor]


@dataclass
class ModelOutput:
    """What one `initial` or `recurrent` call predicts (tensors, batch first)."""

    latent: torch.Tensor
    value_logits: torch.Tensor
    policy: torch.Tensor
    reward_logits: torch.Tensor | None = None
    """`recurrent` only: the reward (or value-prefix) distribution of the step."""
    hidden: Hidden | None = None
    """Value-prefix models: the LSTM state (h, c), each [B, lstm_hidden]."""


# ------------------------------------------------------------------ building blocks


def _zero_last(layer: nn.Linear) -> nn.Linear:
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def mlp(sizes: list[int], out: int, activation: type[nn.Module], zero_init: bool) -> nn.Sequential:
    """Linear -> BatchNorm1d -> activation for each hidden width, then a final Linear."""
    layers: list[nn.Module] = []
    for a, b in pairwise(sizes):
        layers += [nn.Linear(a, b), nn.BatchNorm1d(b), activation()]
    last = nn.Linear(sizes[-1], out)
    layers.append(_zero_last(last) if zero_init else last)
    return nn.Sequential(*layers)


def consistency_heads(
    width: int, hidden: int, out: int, prediction_hidden: int, norm: type[nn.Module]
) -> tuple[nn.Sequential, nn.Sequential]:
    """The temporal-consistency loss's SimSiam heads (paper §4.1): a projection of a latent
    state [B, width] -> [B, out] (three linear layers) and a prediction [B, out] -> [B, out]
    (two), normalised by `norm` (BatchNorm1d in the image family, LayerNorm in the state one)."""
    projection = nn.Sequential(
        nn.Linear(width, hidden),
        norm(hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        norm(hidden),
        nn.ReLU(),
        nn.Linear(hidden, out),
        norm(out),
    )
    prediction = nn.Sequential(
        nn.Linear(out, prediction_hidden),
        norm(prediction_hidden),
        nn.ReLU(),
        nn.Linear(prediction_hidden, out),
    )
    return projection, prediction


class ResidualBlock(nn.Module):
    """Post-activation ResNet block: conv-BN-ReLU-conv-BN, + shortcut, ReLU."""

    def __init__(self, c_in: int, c_out: int | None = None, stride: int = 1):
        super().__init__()
        c_out = c_out or c_in
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = (
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            if stride != 1 or c_in != c_out
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ImproveResidualBlock(nn.Module):
    """Pre-LayerNorm residual MLP: x + Linear(ReLU(Linear(LayerNorm(x))))."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class RunningMeanStd(nn.Module):
    """Per-feature running mean and variance of raw observations, updated in training mode only."""

    mean: torch.Tensor  # (registered buffers)
    var: torch.Tensor
    count: torch.Tensor

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.tensor(1e3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                batch_mean, batch_var, n = x.mean(0), x.var(0, unbiased=False), x.shape[0]
                total = self.count + n
                delta = batch_mean - self.mean
                self.var.copy_(
                    (self.var * self.count + batch_var * n + delta**2 * self.count * n / total)
                    / total
                )
                self.mean.add_(delta * n / total)
                self.count.copy_(total)
        return (x - self.mean) / torch.sqrt(self.var + self.eps)


# ------------------------------------------------------------------ the shared interface


def lstm_restarts_after(depth, horizon: int):
    """Whether the value-prefix LSTM starts afresh after the state `depth` model steps from an
    observation (the value prefix of EfficientZero, kept by EZ-V2): after depths 0, horizon,
    2 horizon, ... The next step then predicts its own reward; the others predict the sum of
    the rewards since the restart. The one statement of the rule: the learner's unroll, the
    search's tree, the reward targets and the notebooks all ask it. `depth`: an int, or a
    NumPy array or tensor of depths (elementwise)."""
    return depth % horizon == 0


class EZModel(nn.Module):
    """Common interface and scalar decoding; subclasses define the six networks."""

    projection: nn.Module  # (defined by the subclasses)
    prediction: nn.Module

    def __init__(self, config: Config, spec: EnvSpec):
        super().__init__()
        self.spec = spec
        self.value_support = Support(config.model.value_support)
        self.reward_support = Support(config.model.reward_support)
        self.value_prefix = config.model.value_prefix
        self.lstm_horizon = config.model.lstm_horizon
        self.nonnegative_values = config.model.nonnegative_values
        actions = spec.num_actions if spec.is_discrete else spec.action_dim  # |A| or A
        assert actions is not None
        self.policy_size = actions if spec.is_discrete else 2 * actions

    # the six parts
    def represent(self, obs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def dynamics(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def reward(
        self, latent: torch.Tensor, hidden: Hidden | None
    ) -> tuple[torch.Tensor, Hidden | None]:
        raise NotImplementedError

    def value_policy(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def project(self, latent: torch.Tensor, with_head: bool = True) -> torch.Tensor:
        z = self.projection(latent.flatten(1))
        return self.prediction(z) if with_head else z

    # the two calls
    def initial(self, obs: torch.Tensor) -> ModelOutput:
        latent = self.represent(obs)
        value, policy = self.value_policy(latent)
        return ModelOutput(latent, value, policy)

    def recurrent(
        self, latent: torch.Tensor, action: torch.Tensor, hidden: Hidden | None = None
    ) -> ModelOutput:
        next_latent = self.dynamics(latent, action)
        reward, hidden = self.reward(next_latent, hidden)
        value, policy = self.value_policy(next_latent)
        return ModelOutput(next_latent, value, policy, reward, hidden)

    def initial_hidden(self, batch: int, device: torch.device) -> Hidden | None:
        """Zero LSTM state for value-prefix models, None otherwise."""
        return None

    # scalars for the search and the targets
    def scalar_value(self, value_logits: torch.Tensor) -> torch.Tensor:
        """[B, bins] -> [B]; clipped at 0 for tasks with non-negative returns (DMC, docs/algorithm.md §1)."""
        value = self.value_support.decode(value_logits)
        return value.clamp(min=0.0) if self.nonnegative_values else value

    def scalar_reward(self, reward_logits: torch.Tensor) -> torch.Tensor:
        return self.reward_support.decode(reward_logits)

    def scalar_value_reward(self, out: ModelOutput) -> torch.Tensor:
        """[2, B] float64 on the model's device: the value and the reward (or value prefix) of
        a `recurrent` output, as `scalar_value` and `scalar_reward` decode them, for the search
        (whose tree statistics are float64): the expectations over the bins in float32, h^-1
        in float64."""
        assert out.reward_logits is not None
        expectations = torch.stack(
            [
                self.value_support.expectation(out.value_logits),
                self.reward_support.expectation(out.reward_logits),
            ]
        )
        value, reward = h_inv(expectations.double())
        return torch.stack([value.clamp(min=0.0) if self.nonnegative_values else value, reward])


# ------------------------------------------------------------------ images


class ImageModel(EZModel):
    """Residual convolutional networks for pixels (docs/algorithm.md §1.2: Atari and DMC pixels)."""

    def __init__(self, config: Config, spec: EnvSpec):
        super().__init__(config, spec)
        m = config.model
        c, half, hc = m.channels, m.channels // 2, m.head_channels
        in_channels, size = spec.obs_shape[0], spec.obs_shape[1]
        stride = 2 if m.downsample >= 4 else 1  # model.downsample: 16 as released, 4 or 1
        pooled = (
            [nn.AvgPool2d(3, 2, 1), ResidualBlock(c), nn.AvgPool2d(3, 2, 1)]
            if m.downsample == 16
            else []
        )
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, half, 3, stride, 1, bias=False),
            nn.BatchNorm2d(half),
            nn.ReLU(),
            ResidualBlock(half),
            ResidualBlock(half, c, stride=stride),
            ResidualBlock(c),
            *pooled,
            *[ResidualBlock(c) for _ in range(m.num_blocks)],
        )
        with torch.no_grad():
            self.latent_shape = tuple(
                self.encoder.eval()(torch.zeros(1, in_channels, size, size)).shape[1:]
            )
        self.encoder.train()
        _, hh, ww = self.latent_shape
        action_planes = 1 if spec.is_discrete else spec.action_dim
        assert action_planes is not None
        self.action_embedding = nn.Sequential(
            nn.Conv2d(action_planes, m.action_embedding_dim, 1),
            nn.LayerNorm([m.action_embedding_dim, hh, ww]),
            nn.ReLU(),
        )
        self.dyn_conv = nn.Conv2d(c + m.action_embedding_dim, c, 3, 1, 1, bias=False)
        self.dyn_bn = nn.BatchNorm2d(c)
        self.dyn_blocks = nn.Sequential(*[ResidualBlock(c) for _ in range(m.num_blocks)])

        flat = hc * hh * ww

        def head_conv() -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(c, hc, 1), nn.BatchNorm2d(hc), nn.ReLU(), nn.Flatten())

        self.reward_conv = head_conv()
        if self.value_prefix:
            self.lstm = nn.LSTMCell(flat, m.lstm_hidden)  # one step per call
            self.lstm_bn = nn.BatchNorm1d(m.lstm_hidden)
            self.reward_mlp = mlp(
                [m.lstm_hidden, *m.reward_hidden], self.reward_support.size, nn.ELU, True
            )
        else:
            self.reward_mlp = mlp([flat, *m.reward_hidden], self.reward_support.size, nn.ELU, True)
        self.trunk = nn.Sequential(*[ResidualBlock(c) for _ in range(m.num_blocks)])
        self.value_conv, self.policy_conv = head_conv(), head_conv()
        self.value_mlp = mlp(
            [flat, *m.value_hidden], self.value_support.size, nn.ELU, zero_init=spec.is_discrete
        )
        self.policy_mlp = mlp([flat, *m.policy_hidden], self.policy_size, nn.ELU, True)
        self.projection, self.prediction = consistency_heads(
            c * hh * ww, m.projection_hidden, m.projection_dim, m.prediction_hidden, nn.BatchNorm1d
        )
        self.lstm_hidden = m.lstm_hidden

    def represent(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float() / 255.0 if obs.dtype == torch.uint8 else obs.float()
        return self.encoder(x)

    def dynamics(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        b, _, hh, ww = latent.shape
        if self.spec.is_discrete:  # one plane filled with a / |A|
            assert self.spec.num_actions is not None
            planes = (action.float() / self.spec.num_actions).view(b, 1, 1, 1).expand(b, 1, hh, ww)
        else:  # the action vector tiled over the latent's spatial grid
            planes = action.float().view(b, -1, 1, 1).expand(b, action.shape[-1], hh, ww)
        x = torch.cat([latent, self.action_embedding(planes)], dim=1)
        x = F.relu(self.dyn_bn(self.dyn_conv(x)) + latent)
        return self.dyn_blocks(x)

    def reward(self, latent: torch.Tensor, hidden: Hidden | None):
        x = self.reward_conv(latent)
        if not self.value_prefix:
            return self.reward_mlp(x), None
        if hidden is None:
            hidden = self.initial_hidden(latent.shape[0], latent.device)
        hidden = self.lstm(x, hidden)
        return self.reward_mlp(F.relu(self.lstm_bn(hidden[0]))), hidden

    def initial_hidden(self, batch: int, device: torch.device) -> Hidden | None:
        if not self.value_prefix:
            return None
        zeros = torch.zeros(batch, self.lstm_hidden, device=device)
        return zeros, zeros.clone()

    def value_policy(self, latent: torch.Tensor):
        x = self.trunk(latent)
        return self.value_mlp(self.value_conv(x)), self.policy_mlp(self.policy_conv(x))


# ------------------------------------------------------------------ low-dimensional state


class StateModel(EZModel):
    """Residual MLPs over a latent vector (docs/algorithm.md §1.3, DMC from state)."""

    def __init__(self, config: Config, spec: EnvSpec):
        super().__init__(config, spec)
        m = config.model
        if m.value_prefix:
            raise ValueError(
                "model.value_prefix needs model.encoder='image' (the LSTM value "
                "prefix of docs/algorithm.md §1.2); state models predict rewards"
            )
        d, hid = m.latent_dim, m.hidden_dim
        (obs_dim,) = spec.obs_shape
        self.normalizer = RunningMeanStd(obs_dim)
        self.encoder = nn.Sequential(
            nn.Linear(obs_dim, d),
            nn.LayerNorm(d),
            nn.Tanh(),
            *[ImproveResidualBlock(d, hid) for _ in range(m.num_blocks)],
        )
        action_in = spec.num_actions if spec.is_discrete else spec.action_dim
        assert action_in is not None
        e = m.action_embedding_dim
        self.action_embedding = nn.Sequential(nn.Linear(action_in, e), nn.LayerNorm(e), nn.ReLU())
        self.dyn_in = nn.Sequential(
            nn.LayerNorm(d + e), nn.Linear(d + e, hid), nn.ReLU(), nn.Linear(hid, d)
        )
        self.dyn_blocks = nn.Sequential(
            *[ImproveResidualBlock(d, hid) for _ in range(m.num_blocks)]
        )

        def head(widths: tuple[int, ...], out: int, zero_init: bool) -> nn.Sequential:
            return nn.Sequential(
                ImproveResidualBlock(d, d),
                nn.LayerNorm(d),
                mlp([d, *widths], out, nn.ReLU, zero_init),
            )

        self.reward_head = head(m.reward_hidden, self.reward_support.size, True)
        self.value_head = head(m.value_hidden, self.value_support.size, False)
        self.policy_head = head(m.policy_hidden, self.policy_size, True)
        self.projection, self.prediction = consistency_heads(
            d, m.projection_hidden, m.projection_dim, m.prediction_hidden, nn.LayerNorm
        )
        self.latent_shape = (d,)

    def represent(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.normalizer(obs.float()))

    def dynamics(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        if self.spec.is_discrete:
            assert self.spec.num_actions is not None
            action = F.one_hot(action.long(), self.spec.num_actions).float()
        x = torch.cat([latent, self.action_embedding(action.float())], dim=-1)
        return self.dyn_blocks(latent + self.dyn_in(x))

    def reward(self, latent: torch.Tensor, hidden: Hidden | None):
        return self.reward_head(latent), None

    def value_policy(self, latent: torch.Tensor):
        return self.value_head(latent), self.policy_head(latent)


@torch.no_grad()
def predict_values(model: EZModel, observations) -> np.ndarray:
    """Scalar values [N] (float64, NumPy) of stacked observations [N, *obs_shape], no gradient."""
    device = next(model.parameters()).device
    out = model.initial(torch.as_tensor(observations, device=device))
    return model.scalar_value(out.value_logits).double().cpu().numpy()


@torch.no_grad()
def predict_rewards(model: EZModel, observation, actions) -> np.ndarray:
    """What the model expects along `actions` [K] taken from one stacked observation [*obs_shape]:
    its reward head's scalars [K] (float64, NumPy), unrolled through the dynamics as the learner
    and the search unroll it. For value-prefix models that is the value prefix, the sum of the
    rewards since the LSTM last restarted (after depths 0, `lstm_horizon`, ...: the rule of
    `lstm_restarts_after`), to be compared with `returns.value_prefixes` of the true rewards;
    otherwise each step's own reward."""
    device = next(model.parameters()).device
    out = model.initial(torch.as_tensor(observation, device=device)[None])
    latent, hidden = out.latent, model.initial_hidden(1, device)
    predicted = []
    for depth, action in enumerate(torch.as_tensor(np.asarray(actions), device=device), start=1):
        out = model.recurrent(latent, action[None], hidden)
        latent, hidden = out.latent, out.hidden
        assert out.reward_logits is not None
        predicted.append(float(model.scalar_reward(out.reward_logits)[0]))
        if model.value_prefix and lstm_restarts_after(depth, model.lstm_horizon):
            hidden = model.initial_hidden(1, device)
    return np.array(predicted)


def build_model(config: Config, spec: EnvSpec) -> EZModel:
    """The model family the config asks for, sized for the environment's spec."""
    if config.model.encoder == "image":
        if not spec.is_image:
            raise ValueError(
                f"model.encoder='image' needs image observations; this environment "
                f"observes {spec.obs_dtype}{list(spec.obs_shape)} (use encoder='state')"
            )
        return ImageModel(config, spec)
    if spec.is_image:
        raise ValueError(
            f"model.encoder='state' needs vector observations; this environment "
            f"observes images {list(spec.obs_shape)} (use encoder='image')"
        )
    return StateModel(config, spec)
