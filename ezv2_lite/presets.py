"""The presets: a complete, validated `Config` for each domain (docs/algorithm.md §2).

`atari`, `dmc_state` and `dmc_image` are faithful to the authors' released configuration;
the others are CPU-sized and keep every part of the algorithm. Each preset's reasons and the
measurements behind its values are in docs/presets.md.
"""

from __future__ import annotations

import typing
from dataclasses import replace

from .config import (
    Config,
    ConfigError,
    EnvConfig,
    ModelConfig,
    OptimConfig,
    ReplayConfig,
    SearchConfig,
    SupportConfig,
    TrainConfig,
    override,
)


def cartpole() -> Config:
    """CartPole-v1, CPU-sized: small widths, batch 64, 8 simulations; every part kept.

    Why these values: docs/presets.md, `cartpole`."""
    return Config(
        preset="cartpole",
        env=EnvConfig(suite="gym", name="CartPole-v1"),
        model=ModelConfig(
            encoder="state",
            latent_dim=64,
            hidden_dim=64,
            num_blocks=1,
            action_embedding_dim=16,
            reward_hidden=(64,),
            value_hidden=(64,),
            policy_hidden=(64,),
            projection_hidden=128,
            projection_dim=64,
            prediction_hidden=128,
            value_support=SupportConfig("h_spaced", 299.0, 51),
            reward_support=SupportConfig("h_spaced", 2.0, 51),
        ),
        search=SearchConfig(num_simulations=8, num_top_actions=2, value_minmax_delta=5.0),
        replay=ReplayConfig(),
        optim=OptimConfig(
            optimizer="adam",
            lr=1e-3,
            weight_decay=2e-5,
            warmup_steps=200,
            batch_size=64,
            td_steps=10,
            discount=0.99,
            consistency_coeff=2.0,
            mixed_value_start_step=4000,
            mixed_value_window=2000,
            target_update_interval=100,
        ),
        train=TrainConfig(
            total_env_steps=10_000,
            start_transitions=500,
            offline_train_steps=0,
            train_ratio=2.0,
            num_envs=4,
            eval_every_env_steps=1000,
            eval_episodes=10,
            log_every_env_steps=200,
            checkpoint_every_env_steps=2000,
        ),
    )


def pendulum() -> Config:
    """Pendulum-v1 (one torque), CPU-sized like `cartpole`; the whole continuous path is kept:
    16 sampled root actions (4 policy + 12 widened), 2 children below, the K-sample policy
    loss (1-D actions) and the entropy bonus. Returns are negative (down to about -16 per
    step), so values are not clipped at 0 and the supports reach -2000 and -20."""
    return Config(
        preset="pendulum",
        env=EnvConfig(suite="gym", name="Pendulum-v1"),
        model=ModelConfig(
            encoder="state",
            latent_dim=64,
            hidden_dim=128,
            num_blocks=1,
            action_embedding_dim=32,
            reward_hidden=(64,),
            value_hidden=(64,),
            policy_hidden=(64,),
            nonnegative_values=False,
            projection_hidden=128,
            projection_dim=64,
            prediction_hidden=128,
            value_support=SupportConfig("h_spaced", 2000.0, 101),
            reward_support=SupportConfig("h_spaced", 20.0, 51),
        ),
        search=SearchConfig(num_simulations=16),
        optim=OptimConfig(
            optimizer="adam",
            lr=1e-3,
            weight_decay=2e-5,
            warmup_steps=200,
            batch_size=64,
            td_steps=10,
            discount=0.99,
            consistency_coeff=2.0,
            entropy_coeff=5e-3,
            mixed_value_start_step=4000,
            mixed_value_window=2000,
            target_update_interval=100,
        ),
        train=TrainConfig(
            total_env_steps=10_000,
            start_transitions=500,
            offline_train_steps=0,
            num_envs=4,
            eval_every_env_steps=1000,
            eval_episodes=10,
            log_every_env_steps=200,
            checkpoint_every_env_steps=2000,
        ),
    )


def atari() -> Config:
    """Atari 100k, faithful to the released configuration (docs/algorithm.md §1.2, §2).

    Why these values: docs/presets.md, `atari`."""
    support = SupportConfig("integer", 300.0, 601)
    return Config(
        preset="atari",
        env=EnvConfig(suite="atari", name="Asterix", image_size=96),
        model=ModelConfig(
            encoder="image",
            channels=64,
            head_channels=16,
            num_blocks=1,
            action_embedding_dim=16,
            reward_hidden=(32,),
            value_hidden=(32,),
            policy_hidden=(32,),
            value_prefix=True,
            lstm_hidden=512,
            projection_hidden=1024,
            projection_dim=1024,
            prediction_hidden=256,
            value_support=support,
            reward_support=support,
        ),
        search=SearchConfig(num_simulations=16, num_top_actions=None),
        optim=OptimConfig(
            optimizer="sgd",
            lr=0.2,
            momentum=0.9,
            weight_decay=1e-4,
            warmup_steps=1000,
            lr_decay_steps=100_000,
            batch_size=256,
            discount=0.997,
            consistency_coeff=5.0,
            entropy_coeff=0.0,
            mixed_value_start_step=30_000,
            mixed_value_window=5000,
            augmentation=True,
        ),
        train=TrainConfig(
            total_env_steps=400_000,
            start_transitions=2000,
            offline_train_steps=20_000,
            eval_every_env_steps=40_000,
            checkpoint_every_env_steps=40_000,
        ),
    )


def dmc_state() -> Config:
    """DeepMind Control from state, faithful to the released configuration (docs/algorithm.md §1.3, §2)."""
    return Config(
        preset="dmc_state",
        env=EnvConfig(suite="dmc", name="hopper-hop"),
        model=ModelConfig(
            encoder="state",
            latent_dim=128,
            hidden_dim=256,
            num_blocks=2,
            action_embedding_dim=64,
            nonnegative_values=True,
            reward_hidden=(256, 256),
            value_hidden=(256, 256),
            policy_hidden=(256, 256),
            projection_hidden=512,
            projection_dim=128,
            prediction_hidden=512,
            value_support=SupportConfig("h_spaced", 299.0, 51),
            reward_support=SupportConfig("h_spaced", 2.0, 51),
        ),
        search=SearchConfig(num_simulations=32),
        optim=OptimConfig(
            optimizer="adam",
            lr=3e-4,
            weight_decay=2e-5,
            warmup_steps=1000,
            lr_decay_steps=300_000,
            batch_size=256,
            discount=0.997,
            consistency_coeff=2.0,
            entropy_coeff=5e-2,
            mixed_value_start_step=40_000,
            mixed_value_window=20_000,
        ),
        train=TrainConfig(
            total_env_steps=200_000,
            start_transitions=2000,
            offline_train_steps=20_000,
            eval_every_env_steps=10_000,
            checkpoint_every_env_steps=10_000,
        ),
    )


def dmc_image() -> Config:
    """DeepMind Control from pixels, faithful to the released configuration (docs/algorithm.md §1.2, §2)."""
    return Config(
        preset="dmc_image",
        env=EnvConfig(suite="dmc", name="hopper-hop", pixels=True, image_size=96),
        model=ModelConfig(
            encoder="image",
            channels=64,
            head_channels=16,
            num_blocks=1,
            action_embedding_dim=16,
            reward_hidden=(32,),
            value_hidden=(32,),
            policy_hidden=(64,),
            nonnegative_values=True,
            projection_hidden=1024,
            projection_dim=1024,
            prediction_hidden=256,
            value_support=SupportConfig("h_spaced", 299.0, 51),
            reward_support=SupportConfig("h_spaced", 2.0, 51),
        ),
        search=SearchConfig(num_simulations=32),
        optim=OptimConfig(
            optimizer="sgd",
            lr=0.2,
            momentum=0.9,
            weight_decay=1e-4,
            warmup_steps=2000,
            lr_decay_steps=100_000,
            batch_size=256,
            discount=0.99,
            consistency_coeff=2.0,
            entropy_coeff=5e-3,
            mixed_value_start_step=40_000,
            mixed_value_window=20_000,
            augmentation=True,
        ),
        train=TrainConfig(
            total_env_steps=400_000,
            start_transitions=2000,
            offline_train_steps=20_000,
            eval_every_env_steps=10_000,
            checkpoint_every_env_steps=20_000,
        ),
    )


def dmc_image_small() -> Config:
    """DeepMind Control from 64x64 pixels, CPU-sized; every part of `dmc_image` is kept.

    Why these values: docs/presets.md, `dmc_image_small`."""
    return Config(
        preset="dmc_image_small",
        env=EnvConfig(suite="dmc", name="cartpole-balance", pixels=True, image_size=64),
        model=ModelConfig(
            encoder="image",
            channels=16,
            head_channels=8,
            num_blocks=1,
            action_embedding_dim=8,
            reward_hidden=(32,),
            value_hidden=(32,),
            policy_hidden=(64,),
            nonnegative_values=True,
            projection_hidden=256,
            projection_dim=256,
            prediction_hidden=64,
            value_support=SupportConfig("h_spaced", 299.0, 51),
            reward_support=SupportConfig("h_spaced", 2.0, 51),
        ),
        search=SearchConfig(num_simulations=16, num_top_actions=None),
        optim=OptimConfig(
            optimizer="sgd",
            lr=0.2,
            momentum=0.9,
            weight_decay=1e-4,
            warmup_steps=1000,
            batch_size=64,
            discount=0.99,
            consistency_coeff=2.0,
            entropy_coeff=5e-3,
            mixed_value_start_step=5000,
            mixed_value_window=4000,
            augmentation=True,
        ),
        train=TrainConfig(
            total_env_steps=20_000,
            start_transitions=1000,
            offline_train_steps=0,
            num_envs=4,
            eval_every_env_steps=4000,
            eval_episodes=10,
            log_every_env_steps=400,
            checkpoint_every_env_steps=2000,
        ),
    )


def minatar() -> Config:
    """MinAtar's 10 x 10 games (Young & Tian, 2019), the pixel benchmark of a 2-core CPU.

    Why these values: docs/presets.md, `minatar`."""
    return override(
        replace(atari(), preset="minatar"),
        env=dict(suite="minatar", name="Breakout"),
        model=dict(
            channels=16,
            head_channels=8,
            downsample=1,
            lstm_hidden=128,
            projection_hidden=256,
            projection_dim=256,
            prediction_hidden=64,
        ),
        search=dict(num_simulations=8),
        optim=dict(batch_size=64, lr_decay_steps=9500, mixed_value_start_step=6250, shift_pad=0),
        train=dict(
            total_env_steps=100_000,
            start_transitions=2000,
            train_ratio=0.125,
            offline_train_steps=0,
            num_envs=4,
            eval_every_env_steps=10_000,
            eval_episodes=10,
            log_every_env_steps=2000,
            checkpoint_every_env_steps=5000,
        ),
    )


def catch() -> Config:
    """Catch (`ezv2_lite/envs/examples.py`), a pixel game a laptop learns in minutes.

    Why these values: docs/presets.md, `catch`."""
    return override(
        replace(minatar(), preset="catch"),
        env=dict(suite="gym", name="ezv2_lite.envs.examples:Catch-v0"),
        model=dict(
            channels=16, downsample=4, lstm_hidden=64, projection_hidden=128, projection_dim=128
        ),
        search=dict(value_minmax_delta=1.0),
        optim=dict(
            warmup_steps=200,
            mixed_value_start_step=1000,
            mixed_value_window=1000,
            target_update_interval=100,
            shift_pad=1,
        ),
        train=dict(
            total_env_steps=4000,
            start_transitions=500,
            train_ratio=0.5,
            eval_every_env_steps=500,
            log_every_env_steps=250,
            checkpoint_every_env_steps=1000,
        ),
    )


PRESETS: dict[str, typing.Callable[[], Config]] = {
    "cartpole": cartpole,
    "pendulum": pendulum,
    "atari": atari,
    "dmc_state": dmc_state,
    "dmc_image": dmc_image,
    "dmc_image_small": dmc_image_small,
    "minatar": minatar,
    "catch": catch,
}


def preset(name: str) -> Config:
    """The named preset. Raises ConfigError listing the presets if `name` is unknown."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]()
