"""Configuration: typed, frozen dataclasses and their validation.

Every hyperparameter of EfficientZero V2 lives here, grouped the way the paper's
hyperparameter tables group them (docs/algorithm.md §2):

    Config
      env      EnvConfig      which environment and its benchmark protocol
      model    ModelConfig    network widths and categorical supports (§1)
      search   SearchConfig   the Gumbel search (§3)
      replay   ReplayConfig   prioritised replay (§5.3)
      optim    OptimConfig    losses, optimiser, schedule, targets (§4, §5)
      train    TrainConfig    budgets and intervals of the training loop (§6)
      runtime  RuntimeConfig  how the run computes, none of the paper's hyperparameters

The per-domain values are the presets' (`ezv2_lite/presets.py`); the replay keeps every
transition of a run, as the released code does (it never evicts). Step counts are *agent
steps* (one call to the wrapped env's `step`, i.e. after action repeat) unless a name says
`env_steps`, which counts environment frames: env_steps = agent_steps * action_repeat.

`Config` objects are immutable; derive variants with `dataclasses.replace` or
the `override` helper. `to_json` / `from_json` round-trip exactly, and
`validate` raises `ConfigError` with a one-line message naming the field.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal, cast

Suite = Literal["gym", "atari", "dmc", "minatar"]


@dataclass(frozen=True)
class AtLeast:
    """A numeric field's lower bound, read by `validate`: `Annotated[float, AtLeast(0)]`.
    Numeric fields without one must be > 0."""

    low: float


AT_LEAST_ZERO = AtLeast(0)


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and what is allowed."""


# --------------------------------------------------------------------------- env


@dataclass(frozen=True)
class EnvConfig:
    """Which environment, and the protocol it is played under (docs/algorithm.md §6).

    Fields left as None take the suite's protocol default (see `resolved`):

    | field                   | gym | atari  | dmc                   | minatar |
    |-------------------------|-----|--------|-----------------------|---------|
    | action_repeat           | 1   | 4      | 2                     | 1       |
    | frame_stack             | 1   | 4      | 1 (state), 4 (pixels) | 1       |
    | max_episode_steps       | env | 3000   | 500 (1000 frames)     | 10000   |
    | eval_max_episode_steps  | env | 27000  | 500                   | 10000   |
    | clip_rewards (training) | no  | sign(r)| no                    | no      |
    | episodic_life (training)| no  | yes    | no                    | no      |

    MinAtar's grids carry the motion of their objects in trail channels, so one frame is a
    whole observation, as the MinAtar paper's DQN saw it.
    """

    suite: Suite = "gym"
    """Environment family: any Gymnasium id, Atari through ale-py, DeepMind Control, or MinAtar."""
    name: str = "CartPole-v1"
    """Gymnasium id (`CartPole-v1`, or `module:Id` to import the module that registers it first),
    Atari game (`Pong`), DMC `domain-task` (`walker-walk`), or MinAtar game (`Breakout`)."""
    pixels: bool = False
    """DMC only: observe rendered RGB frames instead of the state vector."""
    image_size: int = 96
    """Side of the square RGB observation for Atari and DMC pixels."""
    camera: int | None = None
    """DMC pixels camera id; None = 2 for quadruped, else 0."""
    action_repeat: int | None = None
    """Frames per agent step (Atari frame skip 4 with max-pool, DMC 2)."""
    frame_stack: int | None = None
    """Number of consecutive observations stacked into one."""
    max_episode_steps: int | None = None
    """Training time limit in agent steps (None = the suite's default)."""
    eval_max_episode_steps: int | None = None
    """Evaluation time limit in agent steps (Atari: 27,000 = 108,000 frames)."""
    noop_max: int = 30
    """Atari: a random number of 1..noop_max no-op frames at every reset (0 = none)."""
    clip_rewards: bool | None = None
    """Atari: training rewards are clipped to their sign; evaluation rewards stay raw."""
    episodic_life: bool | None = None
    """Atari: a lost life ends the episode in training mode only."""

    def resolved(self) -> EnvConfig:
        """A copy with every None replaced by the suite's protocol default."""
        defaults: dict[str, Any]
        if self.suite == "atari":
            defaults = dict(
                action_repeat=4,
                frame_stack=4,
                max_episode_steps=3000,
                eval_max_episode_steps=27000,
                clip_rewards=True,
                episodic_life=True,
            )
        elif self.suite == "dmc":
            defaults = dict(
                action_repeat=2,
                frame_stack=4 if self.pixels else 1,
                max_episode_steps=None,
                eval_max_episode_steps=None,
                clip_rewards=False,
                episodic_life=False,
            )
        elif self.suite == "minatar":
            defaults = dict(
                action_repeat=1,
                frame_stack=1,
                max_episode_steps=10_000,
                eval_max_episode_steps=10_000,
                clip_rewards=False,
                episodic_life=False,
            )
        else:
            defaults = dict(
                action_repeat=1,
                frame_stack=1,
                max_episode_steps=None,
                eval_max_episode_steps=None,
                clip_rewards=False,
                episodic_life=False,
            )
        if self.suite == "dmc":
            # 1000 frames per DMC episode, whatever the action repeat.
            repeat = self.action_repeat or defaults["action_repeat"]
            defaults["max_episode_steps"] = defaults["eval_max_episode_steps"] = 1000 // repeat
        if self.suite == "dmc" and self.pixels:
            defaults["camera"] = 2 if self.name.startswith("quadruped") else 0
        updates = {k: v for k, v in defaults.items() if getattr(self, k, None) is None}
        return replace(self, **updates)


# ------------------------------------------------------------------------- model


@dataclass(frozen=True)
class SupportConfig:
    """A categorical support for values or rewards (docs/algorithm.md §1.1).

    `integer`: one bin per integer in [-limit, limit] of h-space (Atari: 601 bins).
    `h_spaced`: `bins` bins evenly spaced in h-space between h(-limit) and h(limit)
    (DMC: 51 bins; value limit 299, reward limit 2).
    """

    kind: Literal["integer", "h_spaced"] = "h_spaced"
    limit: float = 299.0
    bins: int = 51


@dataclass(frozen=True)
class ModelConfig:
    """Network sizes (docs/algorithm.md §1). `encoder` picks the image or the low-dimensional family."""

    encoder: Literal["image", "state"] = "state"
    # image family (docs/algorithm.md §1.2)
    channels: int = 64
    """Residual channels of the image encoder and dynamics (latent: channels x 6 x 6 at 96 px)."""
    downsample: Literal[16, 4, 1] = 16
    """How much the image encoder shrinks each side: 16 as released (96 px -> 6 x 6: two
    strides and two poolings), 4 (strides only: a 32 px frame -> 8 x 8), 1 (no stride: a
    MinAtar 10 x 10 grid, where one pixel is one game cell, stays 10 x 10)."""
    head_channels: int = 16
    """1x1-conv channels in front of each image head."""
    # low-dimensional family (docs/algorithm.md §1.3)
    latent_dim: int = 128
    """Size of the latent state vector."""
    hidden_dim: int = 256
    """Width of the representation and dynamics MLPs."""
    # shared
    num_blocks: int = 2
    """Residual blocks in representation / dynamics / heads."""
    action_embedding_dim: int = 64
    """Size of the action embedding fed to the dynamics."""
    reward_hidden: tuple[int, ...] = (256, 256)
    value_hidden: tuple[int, ...] = (256, 256)
    policy_hidden: tuple[int, ...] = (256, 256)
    value_prefix: bool = False
    """Predict the value prefix (sum of rewards since the last reset) with an LSTM (Atari)."""
    lstm_hidden: int = 512
    lstm_horizon: int = 5
    """The value-prefix LSTM is reset every `lstm_horizon` unroll / tree levels."""
    nonnegative_values: bool = False
    """Clip predicted scalar values at 0 (DMC: returns are never negative, docs/algorithm.md §1)."""
    projection_hidden: int = 512
    projection_dim: int = 128
    prediction_hidden: int = 512
    value_support: SupportConfig = field(default_factory=SupportConfig)
    reward_support: SupportConfig = field(default_factory=lambda: SupportConfig(limit=2.0))


# ------------------------------------------------------------------------ search


@dataclass(frozen=True)
class SearchConfig:
    """The Gumbel search (docs/algorithm.md §3)."""

    num_simulations: int = 32
    """Simulations per search (Atari: 16, or 4 when the game has fewer than 4 actions)."""
    num_top_actions: int | None = None
    """m, the root candidates kept by Gumbel top-k; None = Atari rule (2 / 4 / 8 by |A|) or K."""
    policy_samples: Annotated[int, AT_LEAST_ZERO] = 4
    """Continuous root: actions sampled from the policy (act / reanalyze)."""
    widened_samples: Annotated[int, AT_LEAST_ZERO] = 12
    """Continuous root: actions sampled from the policy with `std_magnification` x std."""
    std_magnification: float = 3.0
    interior_children: int = 2
    """Continuous: children sampled from a node's own policy below the root."""
    continuous_root_gumbel: bool = False
    """Add Gumbel noise at continuous roots (paper: yes; released code: no)."""
    c_visit: float = 50.0
    c_scale: float = 0.1
    value_minmax_delta: float = 0.01
    """Floor of the min-max range used to normalise Q values."""
    q_transform: Literal["ezv2", "gumbel_muzero"] = "ezv2"
    """`ezv2`: one min-max over the tree's path returns; `gumbel_muzero`: per-node min-max."""

    @property
    def num_sampled_actions(self) -> int:
        """K, the number of root actions of a continuous search (16 by default)."""
        return self.policy_samples + self.widened_samples


# ------------------------------------------------------------------------ replay


@dataclass(frozen=True)
class ReplayConfig:
    """Prioritised replay (docs/algorithm.md §5.3)."""

    alpha: Annotated[float, AT_LEAST_ZERO] = 1.0
    """Sampling probability ∝ priority^alpha; 0 is uniform replay."""
    beta: float = 1.0
    min_is_weight: float = 0.1
    """Importance weights are normalised by the batch maximum, then clipped to [this, 1]."""
    new_priority: Literal["precalculated", "max"] = "precalculated"
    """Priority of new data: the paper's |v - z| with the current model, or the running max."""
    min_priority: float = 1e-6


# ------------------------------------------------------------------------- optim


@dataclass(frozen=True)
class OptimConfig:
    """Losses, targets and the optimiser (docs/algorithm.md §5, §4)."""

    optimizer: Literal["sgd", "adam"] = "adam"
    lr: float = 3e-4
    momentum: Annotated[float, AT_LEAST_ZERO] = 0.9
    """SGD only."""
    weight_decay: Annotated[float, AT_LEAST_ZERO] = 2e-5
    """L2 penalty added to the gradient (Adam: not AdamW, as in the released code)."""
    warmup_steps: Annotated[int, AT_LEAST_ZERO] = 1000
    lr_decay_steps: int = 300_000
    """After warm-up the learning rate is multiplied by `lr_decay_rate` every this many steps."""
    lr_decay_rate: float = 0.1
    max_grad_norm: float = 5.0
    batch_size: int = 256
    unroll_steps: int = 5
    td_steps: int = 5
    discount: float = 0.997
    """Per-frame discount; the per-agent-step discount is discount ** action_repeat."""
    reward_coeff: Annotated[float, AT_LEAST_ZERO] = 1.0
    value_coeff: Annotated[float, AT_LEAST_ZERO] = 0.5
    """The value loss carries an extra 0.5 inside (effective weight 0.25), as released."""
    policy_coeff: Annotated[float, AT_LEAST_ZERO] = 1.0
    consistency_coeff: Annotated[float, AT_LEAST_ZERO] = 2.0
    entropy_coeff: Annotated[float, AT_LEAST_ZERO] = 5e-2
    """Continuous only: weight of the policy-entropy bonus."""
    continuous_policy_loss: Literal["auto", "full", "simple"] = "auto"
    """`auto`: K-sample weighted loss for 1-D actions, chosen-action likelihood otherwise."""
    value_target: Literal["mixed", "td", "sve"] = "mixed"
    mixed_value_start_step: Annotated[int, AT_LEAST_ZERO] = 40_000
    """Learner step from which stale samples use the search-based value estimate."""
    mixed_value_window: int = 20_000
    """Samples among the newest this many transitions count as fresh (TD target)."""
    target_update_interval: int = 200
    """The lagged target model is refreshed every this many learner steps (lag 200-400)."""
    state_gradient: Literal["all", "dynamics"] = "dynamics"
    """Which gradient into each unrolled state s_k is halved. `all`, as released: all of it,
    from that step's heads and consistency loss too, so a loss at depth k reaches the encoder
    x 0.5^k. `dynamics`, MuZero's pseudocode: only the gradient passed back through the next
    dynamics step (x 0.5^(k-1)). (docs/algorithm.md §5.1: why the default is not the released one.)"""
    consistency_targets: Literal["per_step", "pooled"] = "pooled"
    """`per_step`, as released: each unroll step's targets are represented as their own batch
    of B observations, so batch norm normalises them with that step's statistics (and updates
    its running statistics U times). `pooled`: all B x U observations in one batch."""
    augmentation: bool = False
    """Random shift + intensity augmentation of image observations."""
    shift_pad: Annotated[int, AT_LEAST_ZERO] = 4
    """The random shift's largest translation in pixels: 4 as released (at 96 px, 4 % of the
    frame); 0 leaves positions alone (MinAtar, where a pixel is a game cell and a shifted board
    would be another game)."""


# ------------------------------------------------------------------------- train


@dataclass(frozen=True)
class TrainConfig:
    """Budgets and intervals of the training loop (docs/algorithm.md §6)."""

    total_env_steps: int = 200_000
    """Environment frames to collect (agent steps x action repeat)."""
    start_transitions: int = 2000
    """Agent steps collected before the first learner step."""
    train_ratio: float = 1.0
    """Learner steps per collected agent step."""
    offline_train_steps: Annotated[int, AT_LEAST_ZERO] = 20_000
    """Extra learner steps after collection ends."""
    num_envs: int = 4
    """Environments stepped together by the actor."""
    selfplay_update_interval: int = 100
    """The acting model is refreshed every this many learner steps."""
    eval_every_env_steps: int = 10_000
    eval_episodes: int = 10
    log_every_env_steps: int = 1000
    """A metrics line with the mean losses is written every this many env steps."""
    checkpoint_every_env_steps: int = 20_000


# ------------------------------------------------------------------------ runtime


@dataclass(frozen=True)
class RuntimeConfig:
    """How a run computes, not what it computes: where the tensors live, threads, a second
    process for reanalysis, faster forms of the same arithmetic, determinism and precision.
    None of these is a hyperparameter of the paper; each keeps the results the same up to the
    rounding of float32 arithmetic (thread counts, fused or compiled steps, GPU precision)."""

    deterministic: bool = True
    """Deterministic kernels (`torch.use_deterministic_algorithms`, warning where an operation
    has none; cuDNN's deterministic algorithms, no autotuning), so that the same seed and
    config on the same machine give the same run. CPU kernels are deterministic already; on a
    GPU this may cost speed (docs/performance.md)."""
    tf32: bool = True
    """GPUs: float32 matrix products and convolutions in TensorFloat-32 (10-bit mantissa; much
    faster from Ampere on). No effect on a CPU."""
    bf16_autocast: bool = False
    """GPUs: the learner's forward pass under bfloat16 autocast (losses and the optimiser stay
    float32). No effect on a CPU."""
    torch_threads: int = 1
    """PyTorch CPU threads: raise only after measuring (two threads sharing a busy 2-core
    machine slow down badly; docs/performance.md, "Settings that matter")."""
    reanalysis_worker: bool = False
    """Reanalyse the next batch in a second process while the learner updates on this one
    (`reanalysis_worker.py`; about 1.7x faster learner steps on two cores, docs/performance.md)."""
    checkpoint_every_minutes: float = 10.0
    """Also checkpoint after this much wall time, so a long burst of learner steps is not lost."""
    fused_inference: bool = False
    """State models: run the search's recurrent inferences through `accel/fused.py` (the same
    arithmetic in fewer, larger operations; docs/performance.md) instead of the readable modules."""
    compile_step: bool = False
    """Run the search's model step through `torch.compile` at batch sizes padded to powers of
    two and their halfway sizes (`accel/compiled.py`; on CUDA captured as CUDA graphs). Meant
    for GPUs, where a step is many small kernel launches; on a CPU it compiles for seconds
    per batch size and saves little (docs/performance.md)."""
    replay_device: str = "auto"
    """Where the replay keeps its frames: `auto` = the model's GPU when the run's frames take at
    most half of its free memory, else the CPU; or `cpu`, `cuda`, `cuda:1`, ..."""


# ------------------------------------------------------------------------ config


@dataclass(frozen=True)
class Config:
    """The whole configuration of a run. `config.json` in a run directory is this, resolved."""

    preset: str = "cartpole"
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    env: EnvConfig = field(default_factory=EnvConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def resolved(self) -> Config:
        """The same config with every suite default filled in (what a run records)."""
        return replace(self, env=self.env.resolved())

    @property
    def agent_discount(self) -> float:
        """gamma per agent step = discount ** action_repeat (docs/algorithm.md §1.5)."""
        return self.optim.discount ** (self.env.resolved().action_repeat or 1)


# -------------------------------------------------------------------- validation


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _check_choice(value: Any, path: str, annotation: Any) -> None:
    allowed = typing.get_args(annotation)
    _check(
        value in allowed, f"{path} must be one of {', '.join(map(str, allowed))} (got {value!r})"
    )


def validate(config: Config) -> Config:
    """Check every field; return the config, or raise ConfigError naming the first bad field."""
    _walk_literals(config, "")
    env = config.env
    _check(bool(env.name.strip()), "env.name must not be empty")
    _check(env.image_size >= 16, f"env.image_size must be at least 16 (got {env.image_size})")
    for name in ("action_repeat", "frame_stack", "max_episode_steps", "eval_max_episode_steps"):
        value = getattr(env, name)
        _check(value is None or value >= 1, f"env.{name} must be a positive integer (got {value})")
    _check(0 <= env.noop_max <= 1000, f"env.noop_max must be in [0, 1000] (got {env.noop_max})")
    _check(
        not env.pixels or env.suite == "dmc",
        f"env.pixels applies to the dmc suite only (suite is {env.suite!r}); "
        "Atari is always observed from pixels",
    )

    for section in ("model", "search", "replay", "optim", "train", "runtime"):
        part = getattr(config, section)
        hints = typing.get_type_hints(type(part), include_extras=True)
        for f in dataclasses.fields(part):
            value = getattr(part, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            path = f"{section}.{f.name}"
            bounds = [
                b for b in getattr(hints[f.name], "__metadata__", ()) if isinstance(b, AtLeast)
            ]
            if bounds:
                _check(value >= bounds[0].low, f"{path} must be >= {bounds[0].low:g} (got {value})")
            else:
                _check(value > 0, f"{path} must be > 0 (got {value})")

    m = config.model
    for name in ("reward_hidden", "value_hidden", "policy_hidden"):
        _check(all(w > 0 for w in getattr(m, name)), f"model.{name} widths must be > 0")
    for name in ("value_support", "reward_support"):
        s = getattr(m, name)
        _check(s.limit > 0, f"model.{name}.limit must be > 0 (got {s.limit})")
        _check(s.bins >= 2, f"model.{name}.bins must be at least 2 (got {s.bins})")
        if s.kind == "integer":
            _check(
                s.bins == 2 * int(s.limit) + 1,
                f"model.{name}: an integer support over [-{s.limit:g}, {s.limit:g}] "
                f"has {2 * int(s.limit) + 1} bins (got bins={s.bins})",
            )

    s = config.search
    _check(
        s.num_sampled_actions >= 2,
        f"search.policy_samples + search.widened_samples must be at least 2 "
        f"(got {s.num_sampled_actions})",
    )
    _check(
        s.num_top_actions is None or s.num_top_actions >= 1,
        f"search.num_top_actions must be >= 1 or None (got {s.num_top_actions})",
    )
    rt = config.runtime
    _check(
        not rt.fused_inference or m.encoder == "state",
        "runtime.fused_inference fuses the MLPs of state models; it needs model.encoder='state' "
        "(image models spend their time in convolutions: use --runtime.no-fused-inference)",
    )
    _check(
        not (rt.fused_inference and rt.compile_step),
        "runtime.fused_inference and runtime.compile_step are two faster forms of the same model "
        "step: choose one (--runtime.no-fused-inference or --runtime.no-compile-step)",
    )
    _check(
        rt.replay_device in ("auto", "cpu") or rt.replay_device.split(":")[0] == "cuda",
        f"runtime.replay_device must be auto, cpu, cuda or cuda:N (got {rt.replay_device!r})",
    )

    r = config.replay
    _check(0 <= r.alpha <= 1, f"replay.alpha must be in [0, 1] (got {r.alpha})")
    _check(0 <= r.beta <= 1, f"replay.beta must be in [0, 1] (got {r.beta})")
    _check(
        0 < r.min_is_weight <= 1, f"replay.min_is_weight must be in (0, 1] (got {r.min_is_weight})"
    )

    o = config.optim
    _check(0 < o.discount <= 1, f"optim.discount must be in (0, 1] (got {o.discount})")
    _check(
        0 < o.lr_decay_rate <= 1, f"optim.lr_decay_rate must be in (0, 1] (got {o.lr_decay_rate})"
    )
    _check(o.momentum < 1, f"optim.momentum must be < 1 (got {o.momentum})")
    _check(
        not o.augmentation or m.encoder == "image",
        "optim.augmentation shifts and brightens images; it needs model.encoder='image' "
        "(turn it off with --optim.no-augmentation for vector observations)",
    )

    t = config.train
    _check(
        t.start_transitions >= o.batch_size,
        f"train.start_transitions ({t.start_transitions}) must be at least "
        f"optim.batch_size ({o.batch_size}) so that the first batch can be sampled",
    )
    return config


def _walk_literals(obj: Any, prefix: str) -> None:
    """Check every Literal-typed field holds one of its allowed values."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        path = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            _walk_literals(value, path + ".")
        elif typing.get_origin(hints[f.name]) is Literal:
            _check_choice(value, path, hints[f.name])


# ------------------------------------------------------------------ json, override


def to_dict(config: Config) -> dict[str, Any]:
    return dataclasses.asdict(config)


def to_json(config: Config) -> str:
    """JSON text of a config (tuples become lists; `from_json` restores them)."""
    return json.dumps(to_dict(config), indent=2, sort_keys=False) + "\n"


def from_dict(data: dict[str, Any], cls: type = Config, path: str = "") -> Any:
    """Build `cls` from nested dicts, rejecting unknown keys with a ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'config'} must be a JSON object (got {type(data).__name__})")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown field {path}{unknown[0]}; known fields: {', '.join(sorted(names))}"
        )
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(value, hints[name], f"{path}{name}")
    return cls(**kwargs)


def _coerce(value: Any, annotation: Any, path: str) -> Any:
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):  # (a dataclass type: annotations are types)
        return from_dict(value, cast(type, annotation), path + ".")
    if origin is tuple and isinstance(value, (list, tuple)):
        return tuple(value)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None:
            return None
        if len(args) == 1:
            return _coerce(value, args[0], path)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def from_json(text: str) -> Config:
    """Parse `config.json` text back into an identical Config."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"config.json is not valid JSON: {error}") from None
    return from_dict(data)


def override(config: Config, **sections: Any) -> Config:
    """`override(cfg, train=dict(total_env_steps=500))`: replace fields section by section."""
    updates = {}
    for section, values in sections.items():
        if isinstance(values, dict):
            updates[section] = replace(getattr(config, section), **values)
        else:
            updates[section] = values
    return replace(config, **updates)
