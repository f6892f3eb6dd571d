"""The learner: losses, optimiser, schedule and the lagged target model (paper §4; docs/algorithm.md §5.1).

For each sampled window the model is unrolled U steps from the first observation:

    s_0 = represent(o_t)                       value, policy heads at s_0
    s_k = dynamics(s_{k-1}, a_{t+k-1})          reward, value, policy heads at s_k, k = 1..U

and the per-sample loss is (mask_k: action t+k exists; step 0 is never masked)

    L = value_coeff * 0.5 * CE(v_0, z_0) + L_pi(0) - c_H H(pi_0)
      + sum_k mask_{k-1} [ reward_coeff * CE(r_k, u_k) + value_coeff * 0.5 * CE(v_k, z_k)
                           + policy_coeff * L_pi(k) - c_H H(pi_k)
                           + consistency_coeff * (1 - cos(head(proj(s_k)), sg(proj(represent(o_{t+k}))))) ]

with two-hot cross-entropies on the categorical supports, L_pi the discrete
cross-entropy against the improved policy or the continuous loss (`auto`: the
K-sample weighted log-likelihood for 1-D actions, the chosen action's
log-likelihood otherwise), H the entropy bonus (continuous only). Samples are
weighted by their importance weights; the gradient into every unrolled state is
halved (what the next dynamics step passes back; as released, all of it: `optim.state_gradient`),
the whole gradient scaled by 1/U and clipped to a global norm of 5. The consistency targets are
encoded in one batch of B x U observations (as released, a batch per unroll step:
`optim.consistency_targets`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .augment import augment
from .config import Config
from .model.networks import EZModel, lstm_restarts_after
from .model.policy import log_abs_det_tanh, squash_params, squashed_log_prob
from .replay import Replay, SampledBatch
from .returns import priority
from .targets import Targets, TargetSource

ENTROPY_SAMPLES = 1024
"""Reparameterised samples per state for the entropy bonus (continuous actions)."""


def scale_gradient(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Identity forward; multiplies the gradient flowing back through x by `scale`."""
    return x * scale + x.detach() * (1 - scale)


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-sum target * log_softmax(logits) over the last dimension: [..., C] -> [...]."""
    return -(target * F.log_softmax(logits, dim=-1)).sum(-1)


def cosine_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """1 - cos(a, b) per row, vectors L2-normalised (eps 1e-5): [B, D] -> [B].

    The released code minimises -cos; 1 - cos has the same gradient and keeps every
    loss term non-negative, so the logged total reads as a distance to zero.
    """
    return 1 - (F.normalize(a, dim=-1, eps=1e-5) * F.normalize(b, dim=-1, eps=1e-5)).sum(-1)


def make_optimizer(model: torch.nn.Module, config: Config):
    """SGD with momentum or Adam (with L2 weight decay), and the warm-up + step-decay schedule.

    `fused=True` updates each parameter in one kernel instead of a Python loop of small
    operations (the same arithmetic, on CPU and GPU alike; 6x faster on CartPole's 86 tensors).
    """
    o = config.optim
    if o.optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(),
            lr=o.lr,
            momentum=o.momentum,
            weight_decay=o.weight_decay,
            fused=True,
        )
    else:
        opt = torch.optim.Adam(model.parameters(), lr=o.lr, weight_decay=o.weight_decay, fused=True)

    def factor(step: int) -> float:
        if step < o.warmup_steps:
            return (step + 1) / o.warmup_steps
        return o.lr_decay_rate ** ((step - o.warmup_steps) // o.lr_decay_steps)

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


class TargetModel:
    """The lagged model used for reanalysis: every `interval` learner steps it becomes the
    snapshot taken `interval` steps earlier, so it lags the online model by interval..2 interval."""

    def __init__(self, model: EZModel, interval: int):
        self.interval = interval
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.snapshot = copy.deepcopy(model.state_dict())

    def step(self, learner_step: int, online: EZModel) -> bool:
        """Call after learner step `learner_step` (1-based); True when the target changed."""
        if learner_step % self.interval:
            return False
        self.model.load_state_dict(self.snapshot)
        self.snapshot = copy.deepcopy(online.state_dict())
        return True


@dataclass
class LossSummary:
    """Batch means of each loss term (unweighted by coefficients) and the total, and the
    diagnostics a run logs beside them (metrics.jsonl; the dashboard and `report` draw them)."""

    total: float
    value: float
    reward: float
    policy: float
    consistency: float
    entropy: float
    value_by_step: list[float]  # [U+1] the value loss at unroll steps 0..U (sums to `value`)
    reward_by_step: list[float]  # [U] the reward loss at unroll steps 1..U (sums to `reward`);
    #                                  both are means over the whole batch, masked steps (past an
    #                                  episode's end) counting 0, as in the loss itself
    root_policy_sigma: float | None  # continuous: mean pre-tanh sigma of the policy at the roots
    root_policy_entropy: float | None  # discrete: mean entropy of the policy at the roots (nats)
    unvisited_target_mass: float  # policy-target mass on root actions the search never visited
    sve_fraction: float  # share of samples whose value target is the search's (SVE)

    @staticmethod
    def mean(losses: list[StepLosses]) -> dict:
        """The mean over several learner steps as a metrics line: field by field (lists
        element-wise; None skipped), every step's device terms read back in one transfer."""
        return {
            name: value for name, value in vars(LossSummary.of(losses)).items() if value is not None
        }

    @staticmethod
    def of(losses: list[StepLosses]) -> LossSummary:
        """The LossSummary of the mean over several learner steps (one transfer)."""
        names = list(losses[0].terms)
        stacked = [
            torch.stack([step.terms[name].double() for step in losses]).mean(0) for name in names
        ]
        sizes = [t.numel() for t in stacked]
        numbers = torch.cat([t.reshape(-1) for t in stacked]).tolist()
        values: dict[str, Any] = {}
        start = 0
        for name, term, size in zip(names, stacked, sizes, strict=True):
            values[name] = numbers[start : start + size] if term.dim() else numbers[start]
            start += size
        sigma = values.pop("root_policy_sigma", None)
        entropy = values.pop("root_policy_entropy", None)
        diagnostics: dict[str, Any] = {
            name: float(np.mean([step.diagnostics[name] for step in losses]))
            for name in losses[0].diagnostics
        }
        return LossSummary(
            **values,
            root_policy_sigma=sigma,
            root_policy_entropy=entropy,
            **diagnostics,
        )


@dataclass
class StepLosses:
    """One learner step's logged terms, left on the device until they are read (a host read
    waits for the device: a run reads them once per log line, `LossSummary.mean`)."""

    terms: dict[str, torch.Tensor]  # compute_loss's terms, detached
    diagnostics: dict[str, float]  # target_diagnostics (computed on the host)

    def read(self) -> LossSummary:
        """This step's LossSummary (one transfer)."""
        return LossSummary.of([self])


def loss_inputs(
    batch: SampledBatch, targets: Targets, device: torch.device
) -> dict[str, torch.Tensor]:
    """The host arrays the loss reads (masks, importance weights, actions, targets), on the
    device after one copy: float32, each with its own shape ([B, U], [B, U+1, C], ...)."""
    arrays = {
        "mask": batch.mask,
        "weights": batch.weights,
        "actions": batch.actions,
        "values": targets.values,
        "rewards": targets.rewards,
        "policies": targets.policies,
    }
    if targets.sampled_actions is not None:
        assert targets.chosen_actions is not None
        arrays |= {
            "sampled_actions": targets.sampled_actions,
            "chosen_actions": targets.chosen_actions,
        }
    flat = torch.from_numpy(
        np.concatenate([np.asarray(a, np.float32).ravel() for a in arrays.values()])
    )
    on_device = flat.to(device, non_blocking=True)
    out, start = {}, 0
    for name, array in arrays.items():
        out[name] = on_device[start : start + array.size].view(array.shape)
        start += array.size
    return out


def policy_loss(
    model: EZModel,
    policy: torch.Tensor,
    k: int,
    inputs: dict[str, torch.Tensor],
    config: Config,
    noise: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(policy loss [B], entropy [B]) at unroll step k (0..U); `inputs` from `loss_inputs`,
    `noise` [S, B, A] for the entropy."""
    if model.spec.is_discrete:
        return soft_cross_entropy(policy, inputs["policies"][:, k]), torch.zeros(
            len(policy), device=policy.device
        )
    mu, sigma = squash_params(policy)
    mode = config.optim.continuous_policy_loss
    if mode == "auto":
        mode = "full" if model.spec.action_dim == 1 else "simple"
    if mode == "full":  # -sum_k pi'_k log pi(a_k) over the K sampled root actions
        # [B, K]
        log_probs = squashed_log_prob(inputs["sampled_actions"][:, k], mu[:, None], sigma[:, None])
        loss = -(inputs["policies"][:, k] * log_probs).sum(-1)
    else:  # -log pi(a*) of the action the search chose
        loss = -squashed_log_prob(inputs["chosen_actions"][:, k], mu, sigma)
    assert noise is not None  # (compute_loss draws it for continuous actions)
    return loss, squashed_entropy(mu, sigma, noise)


def squashed_entropy(mu: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Entropy [B] of tanh(Normal(mu, sigma)), summed over action dimensions.

    H = H(Normal) + E[log(1 - tanh(u)^2)], u = mu + sigma * noise: the Gaussian part in
    closed form, the tanh correction averaged over the reparameterised `noise`
    [S, B, A] (the released code averages -log pi over 1024 such samples).
    """
    gaussian = (torch.log(sigma) + 0.5 * math.log(2 * math.pi * math.e)).sum(-1)
    return gaussian + log_abs_det_tanh(mu + sigma * noise).sum(-1).mean(0)


def compute_loss(
    model: EZModel, batch: SampledBatch, targets: Targets, config: Config, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """(loss for backward, V(s_0) predictions [B] for priorities, logged terms): all on the
    device, nothing read back (`LossSummary.mean` reads the terms of many steps in one transfer)."""
    o, U = config.optim, config.optim.unroll_steps
    discrete = model.spec.is_discrete
    obs = batch.observations.to(device)  # the replay delivers it there: no copy
    inputs = loss_inputs(batch, targets, device)
    actions, mask = inputs["actions"], inputs["mask"]
    if discrete:
        actions = actions.long()
    value_target = model.value_support.encode(inputs["values"])  # [B, U+1, bins]
    reward_target = model.reward_support.encode(inputs["rewards"])  # [B, U, bins]

    roots, later_obs = obs[:, 0], obs[:, 1:]  # [B, *obs], [B, U, *obs]
    if o.augmentation:  # two independent draws: the roots, and the consistency targets
        roots = augment(roots, o.shift_pad)
        # one shift per sample
        later_obs = augment(later_obs.flatten(1, 2), o.shift_pad).view(later_obs.shape)
    out = model.initial(roots)
    latent = out.latent
    noise = None
    if not discrete:
        assert model.spec.action_dim is not None
        noise = torch.randn(ENTROPY_SAMPLES, len(obs), model.spec.action_dim, device=device)
    value_steps = [soft_cross_entropy(out.value_logits, value_target[:, 0])]  # per unroll step, [B]
    reward_steps = []
    pol, entropy = policy_loss(model, out.policy, 0, inputs, config, noise)
    consistency = torch.zeros_like(value_steps[0])
    policy_total, entropy_total = pol, entropy
    hidden = model.initial_hidden(len(obs), device)
    target_proj = consistency_targets(model, later_obs, o.consistency_targets)  # [B, U, D]
    for k in range(1, U + 1):
        m = mask[:, k - 1]
        step = model.recurrent(latent, actions[:, k - 1], hidden)
        latent, hidden = step.latent, step.hidden
        # all that reaches s_k, its heads' too
        if o.state_gradient == "all" and latent.requires_grad:
            latent.register_hook(lambda grad: grad * 0.5)
        else:  # only what the next dynamics step passes back
            latent = scale_gradient(latent, 0.5)
        if model.value_prefix and lstm_restarts_after(k, model.lstm_horizon):
            hidden = model.initial_hidden(len(obs), device)
        assert step.reward_logits is not None
        reward_steps.append(m * soft_cross_entropy(step.reward_logits, reward_target[:, k - 1]))
        value_steps.append(m * soft_cross_entropy(step.value_logits, value_target[:, k]))
        pol, ent = policy_loss(model, step.policy, k, inputs, config, noise)
        policy_total = policy_total + m * pol
        entropy_total = entropy_total + m * ent
        consistency = consistency + m * cosine_distance(
            model.project(step.latent), target_proj[:, k - 1]
        )

    value_loss, reward_loss = sum(value_steps), sum(reward_steps)
    assert isinstance(value_loss, torch.Tensor) and isinstance(reward_loss, torch.Tensor)  # U >= 1
    entropy_coeff = 0.0 if discrete else o.entropy_coeff
    per_sample = (
        o.value_coeff * 0.5 * value_loss
        + o.reward_coeff * reward_loss
        + o.policy_coeff * policy_total
        - entropy_coeff * entropy_total
        + o.consistency_coeff * consistency
    )
    loss = (inputs["weights"] * per_sample).mean()
    root_value = model.scalar_value(out.value_logits).detach()
    terms = dict(
        total=loss,
        value=value_loss.mean(),
        reward=reward_loss.mean(),
        policy=policy_total.mean(),
        consistency=consistency.mean(),
        entropy=entropy_total.mean(),
        value_by_step=torch.stack(value_steps).mean(-1),
        reward_by_step=torch.stack(reward_steps).mean(-1),
        **(
            {"root_policy_entropy": root_policy_entropy(out.policy)}
            if discrete
            else {"root_policy_sigma": root_policy_sigma(out.policy)}
        ),
    )
    return loss, root_value, {name: term.detach() for name, term in terms.items()}


@torch.no_grad()
def consistency_targets(model: EZModel, later_obs: torch.Tensor, mode: str) -> torch.Tensor:
    """The consistency loss's targets: projections (no prediction head, no gradient) of the
    representations of the real next observations `later_obs` [B, U, *obs] -> [B, U, D].
    `per_step` represents each step's B observations as a batch of their own (as released:
    batch norm uses that step's statistics); `pooled` all B x U at once."""
    if mode == "pooled":
        later = model.represent(later_obs.flatten(0, 1))
        return model.project(later, with_head=False).view(*later_obs.shape[:2], -1)
    return torch.stack(
        [
            model.project(model.represent(later_obs[:, k]), with_head=False)
            for k in range(later_obs.shape[1])
        ],
        dim=1,
    )


def root_policy_entropy(policy: torch.Tensor) -> torch.Tensor:
    """How sharp a discrete policy is at the batch's roots: its mean entropy in nats, from
    logits [B, A]. A policy that cannot sharpen shows here first."""
    with torch.no_grad():
        return -(F.softmax(policy, -1) * F.log_softmax(policy, -1)).sum(-1).mean()


def root_policy_sigma(policy: torch.Tensor) -> torch.Tensor:
    """How sharp a continuous policy is at the batch's roots: its mean pre-tanh sigma, from
    the policy head's [B, 2A] output."""
    with torch.no_grad():
        return squash_params(policy)[1].mean()


def target_diagnostics(targets: Targets) -> dict:
    """The policy target's mean mass on unvisited root actions (over the positions that have a
    target) and the share of samples whose value target came from the search (SVE)."""
    has_target = targets.policies.sum(-1) > 0
    unvisited = 0.0
    if targets.unvisited_mass is not None and has_target.any():
        unvisited = float(targets.unvisited_mass[has_target].mean())
    return dict(unvisited_target_mass=unvisited, sve_fraction=float(1 - targets.use_td.mean()))


class Learner:
    """Owns a run's three models: the online model it trains (with its optimiser and
    schedule), the lagged target model the reanalysis searches with (`target`), and the
    acting model self-play searches with (`acting`, a copy of the online model refreshed
    every `train.selfplay_update_interval` learner steps by the training loop). Its
    `state_dict` is what a checkpoint keeps of them."""

    def __init__(self, model: EZModel, config: Config, device: torch.device):
        self.model, self.config, self.device = model, config, device
        self.optimizer, self.scheduler = make_optimizer(model, config)
        self.target = TargetModel(model, config.optim.target_update_interval)
        self.acting = copy.deepcopy(model).eval()
        self.steps = 0
        self.target_refreshed = False  # whether the last update refreshed the target model

    def refresh_acting(self) -> None:
        """The acting model takes the online model's weights."""
        self.acting.load_state_dict(self.model.state_dict())

    def state_dict(self) -> dict[str, Any]:
        """The online and target models, the next target snapshot, the optimiser and schedule,
        the step count (the fields of `checkpoint.RunState` of the same names)."""
        return {
            "model": self.model.state_dict(),
            "target": self.target.model.state_dict(),
            "snapshot": self.target.snapshot,
            "optimizer": {
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
            },
            "learner_steps": self.steps,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from `state_dict()`'s result; the acting model takes the online weights."""
        self.model.load_state_dict(state["model"])
        self.target.model.load_state_dict(state["target"])
        self.target.snapshot = state["snapshot"]
        self.optimizer.load_state_dict(state["optimizer"]["optimizer"])
        self.scheduler.load_state_dict(state["optimizer"]["scheduler"])
        self.steps = state["learner_steps"]
        self.refresh_acting()

    def update(self, batch: SampledBatch, targets: Targets) -> tuple[StepLosses, np.ndarray]:
        """One gradient step; returns the step's losses (on the device until read) and the
        new priorities [B] (the step's one host read)."""
        o = self.config.optim
        if not self.model.training:  # a search or an evaluation may have left it in eval mode
            self.model.train()
        with torch.autocast(
            "cuda",
            torch.bfloat16,
            enabled=self.config.runtime.bf16_autocast and self.device.type == "cuda",
        ):
            loss, root_value, terms = compute_loss(
                self.model, batch, targets, self.config, self.device
            )
        self.optimizer.zero_grad(set_to_none=True)
        (loss / o.unroll_steps).backward()  # the whole gradient is scaled by 1/U
        # foreach where it can
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), o.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.steps += 1
        self.target_refreshed = self.target.step(self.steps, self.model)
        losses = StepLosses(terms, target_diagnostics(targets))
        v = root_value.double().cpu().numpy()
        return losses, priority(v, targets.values[:, 0], self.config.replay.min_priority)


def learner_step(
    learner: Learner, replay: Replay, reanalyzer: TargetSource, train_step: int
) -> StepLosses:
    """One learner step, in the paper's order: a prioritised batch with targets reanalysed by
    the lagged target model (`reanalyzer`), one update of the online model, the batch's new
    priorities (docs/algorithm.md §5). The training loop and the notebooks
    call this; the losses stay on the device until read (`StepLosses.read`, `LossSummary.mean`)."""
    batch, targets = reanalyzer.next(train_step)
    losses, priorities = learner.update(batch, targets)
    replay.update_priorities(batch.indices, priorities)
    if learner.target_refreshed:
        reanalyzer.set_target(learner.target.model)
    return losses
