import dataclasses
import json

import pytest

from ezv2_lite.config import Config, ConfigError, from_json, override, to_json, validate
from ezv2_lite.presets import PRESETS, preset
from ezv2_lite.tools.cli import config_from_args


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_valid_and_round_trips_through_json_exactly(name):
    config = validate(preset(name)).resolved()
    text = to_json(config)
    assert from_json(text) == config
    assert to_json(from_json(text)) == text
    assert json.loads(text)["preset"] == name


def test_presets_carry_the_released_hyperparameters():
    atari, state, image = preset("atari"), preset("dmc_state"), preset("dmc_image")
    # docs/algorithm.md §1.1: Atari 601 integer bins; DMC 51 bins spread in h-space.
    assert atari.model.value_support.bins == 601 and atari.model.value_support.kind == "integer"
    assert state.model.value_support.bins == 51 and state.model.reward_support.limit == 2.0
    # docs/algorithm.md §1.5: discount raised to the action repeat.
    assert atari.agent_discount == pytest.approx(0.997**4)
    assert state.agent_discount == pytest.approx(0.997**2)
    assert image.agent_discount == pytest.approx(0.99**2)
    # docs/algorithm.md §3: search budgets; K = 4 policy + 12 widened samples.
    assert atari.search.num_simulations == 16 and state.search.num_simulations == 32
    assert state.search.num_sampled_actions == 16 and state.search.std_magnification == 3
    assert (state.search.c_visit, state.search.c_scale) == (50, 0.1)
    # docs/algorithm.md §5: optimisers, consistency and entropy weights, mixed-target thresholds.
    assert (atari.optim.optimizer, atari.optim.lr, atari.optim.consistency_coeff) == (
        "sgd",
        0.2,
        5.0,
    )
    assert (state.optim.optimizer, state.optim.lr, state.optim.entropy_coeff) == (
        "adam",
        3e-4,
        5e-2,
    )
    assert (atari.optim.mixed_value_start_step, atari.optim.mixed_value_window) == (30_000, 5000)
    assert (state.optim.mixed_value_start_step, state.optim.mixed_value_window) == (40_000, 20_000)
    # docs/algorithm.md §5.3: alpha = beta = 1, precalculated priorities.
    assert (state.replay.alpha, state.replay.beta, state.replay.new_priority) == (
        1,
        1,
        "precalculated",
    )


def test_suite_defaults_follow_the_benchmark_protocols():
    atari = preset("atari").env.resolved()
    assert (atari.action_repeat, atari.frame_stack, atari.eval_max_episode_steps) == (4, 4, 27000)
    assert atari.clip_rewards and atari.episodic_life and atari.noop_max == 30
    state = preset("dmc_state").env.resolved()
    assert (state.action_repeat, state.frame_stack, state.max_episode_steps) == (2, 1, 500)
    assert not state.clip_rewards
    pixels = dataclasses.replace(preset("dmc_image").env, name="quadruped-walk").resolved()
    assert pixels.frame_stack == 4 and pixels.camera == 2


@pytest.mark.parametrize(
    "section, values, field_name",
    [
        ("optim", dict(discount=1.5), "optim.discount"),
        ("optim", dict(batch_size=0), "optim.batch_size"),
        ("optim", dict(continuous_policy_loss="fancy"), "optim.continuous_policy_loss"),
        ("train", dict(total_env_steps=-5), "train.total_env_steps"),
        ("train", dict(start_transitions=10), "train.start_transitions"),
        ("search", dict(q_transform="softmax"), "search.q_transform"),
        ("search", dict(num_simulations=0), "search.num_simulations"),
        ("replay", dict(alpha=2.0), "replay.alpha"),
        ("replay", dict(new_priority="newest"), "replay.new_priority"),
        ("env", dict(suite="mujoco"), "env.suite"),
        ("env", dict(frame_stack=0), "env.frame_stack"),
    ],
)
def test_bad_values_raise_a_one_line_error_naming_the_field(section, values, field_name):
    with pytest.raises(ConfigError) as error:
        validate(override(preset("cartpole"), **{section: values}))
    message = str(error.value)
    assert field_name in message and "\n" not in message


def test_pixels_outside_dmc_is_rejected():
    with pytest.raises(ConfigError, match="env.pixels"):
        validate(override(Config(), env=dict(suite="gym", pixels=True)))


def test_unknown_preset_lists_the_presets():
    with pytest.raises(ConfigError, match="cartpole, pendulum, atari, dmc_state, dmc_image"):
        preset("breakout")


def test_config_json_rejects_unknown_fields_and_bad_json():
    data = json.loads(to_json(preset("cartpole")))
    data["optim"]["learning_rate"] = 1.0
    with pytest.raises(ConfigError, match="optim.learning_rate"):
        from_json(json.dumps(data))
    with pytest.raises(ConfigError, match="not valid JSON"):
        from_json("{")


def test_command_line_overrides_by_dotted_name():
    config = config_from_args(
        [
            "--preset",
            "dmc_state",
            "--env.name",
            "walker-walk",
            "--seed",
            "3",
            "--search.num-simulations",
            "8",
            "--model.policy-hidden",
            "32",
            "32",
        ]
    )
    assert config.preset == "dmc_state" and config.seed == 3
    assert config.env.name == "walker-walk" and config.env.suite == "dmc"
    assert config.search.num_simulations == 8 and config.model.policy_hidden == (32, 32)
    # Untouched fields keep the preset's values.
    assert config.optim.lr == preset("dmc_state").optim.lr


def test_command_line_override_is_validated():
    with pytest.raises(ConfigError, match="optim.discount"):
        config_from_args(["--preset", "cartpole", "--optim.discount", "2.0"])


# What a CPU-sized preset may change relative to its faithful one: sizes, budgets and the
# schedule that follows from a shorter run; never a part of the algorithm or the protocol.
SIZES = {
    "preset",
    "env.name",
    "env.image_size",
    "model.channels",
    "model.head_channels",
    "model.action_embedding_dim",
    "model.lstm_hidden",
    "model.projection_hidden",
    "model.projection_dim",
    "model.prediction_hidden",
    "optim.batch_size",
    "optim.lr_decay_steps",
    "optim.mixed_value_start_step",
    "optim.mixed_value_window",
    "train.total_env_steps",
    "train.offline_train_steps",
    "train.start_transitions",
    "train.eval_every_env_steps",
    "train.log_every_env_steps",
    "train.checkpoint_every_env_steps",
}
ALSO_ALLOWED = {
    # fewer simulations, and a warm-up sized to a 10,000-learner-step run
    "dmc_image_small": {"search.num_simulations", "optim.warmup_steps"},
}


def _flat(config, prefix=""):
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out |= _flat(value, f"{prefix}{f.name}.")
        else:
            out[f"{prefix}{f.name}"] = value
    return out


@pytest.mark.parametrize("small, faithful", [("dmc_image_small", "dmc_image")])
def test_a_cpu_sized_pixel_preset_keeps_every_part_of_its_faithful_preset(small, faithful):
    a, b = _flat(preset(small).resolved()), _flat(preset(faithful).resolved())
    differ = {k for k in a if a[k] != b[k]}
    assert differ <= SIZES | ALSO_ALLOWED[small], sorted(differ - SIZES - ALSO_ALLOWED[small])
    small_config = preset(small).resolved()
    assert small_config.env.frame_stack == 4 and small_config.optim.augmentation


MINATAR_CHANGES = SIZES | {
    # MinAtar's own protocol, as its paper ran DQN: one frame a step (the grid's trail channels
    # show motion), rewards unclipped, no lives, games capped at 10,000 steps
    "env.suite",
    "env.action_repeat",
    "env.frame_stack",
    "env.max_episode_steps",
    "env.eval_max_episode_steps",
    "env.clip_rewards",
    "env.episodic_life",
    # a pixel is a game cell: no downsampling, and no shift (a shifted board is another game)
    "model.downsample",
    "optim.shift_pad",
    # fewer simulations and learner steps, so that a run fits 2 hours of one core
    "search.num_simulations",
    "train.train_ratio",
}


def test_the_minatar_preset_keeps_every_part_of_the_atari_algorithm():
    a, b = _flat(preset("minatar").resolved()), _flat(preset("atari").resolved())
    differ = {k for k in a if a[k] != b[k]}
    assert differ <= MINATAR_CHANGES, sorted(differ - MINATAR_CHANGES)
    config = preset("minatar")
    assert config.model.value_prefix and config.optim.augmentation and config.model.downsample == 1
    assert config.optim.value_target == "mixed" and config.replay.new_priority == "precalculated"


def test_the_catch_preset_is_the_minatar_preset_on_a_smaller_budget():
    a, b = _flat(preset("catch").resolved()), _flat(preset("minatar").resolved())
    differ = {k for k in a if a[k] != b[k]}
    allowed = SIZES | {
        "env.suite",
        "env.max_episode_steps",
        "env.eval_max_episode_steps",
        "model.downsample",
        "optim.shift_pad",
        "search.value_minmax_delta",
        "optim.warmup_steps",
        "optim.target_update_interval",
        "train.train_ratio",
    }
    assert differ <= allowed, sorted(differ - allowed)


ZERO_ALLOWED = {
    "optim.weight_decay",
    "optim.entropy_coeff",
    "optim.momentum",
    "optim.warmup_steps",
    "optim.reward_coeff",
    "optim.value_coeff",
    "optim.policy_coeff",
    "optim.consistency_coeff",
    "optim.mixed_value_start_step",
    "optim.shift_pad",
    "search.widened_samples",
    "search.policy_samples",
    "train.offline_train_steps",
    "replay.alpha",
}
"""The numeric fields for which 0 means something (off, none, from the start, uniform)."""


def test_every_numeric_field_is_validated():
    """A negative value in any numeric field of any section is a one-line error naming it;
    0 is allowed exactly in the fields where it means off, none or from the start."""
    base = preset("dmc_state")
    checked = 0
    for section in ("model", "search", "replay", "optim", "train", "runtime"):
        for f in dataclasses.fields(getattr(base, section)):
            value = getattr(getattr(base, section), f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            name = f"{section}.{f.name}"
            with pytest.raises(ConfigError, match=f"{name} must be"):
                validate(override(base, **{section: {f.name: -1}}))
            try:
                validate(override(base, **{section: {f.name: 0}}))
                rejected = False
            except ConfigError as error:
                rejected = name in str(error)
            assert rejected == (name not in ZERO_ALLOWED), name
            checked += 1
    assert checked > 40
