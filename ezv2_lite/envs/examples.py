"""A small pixel game to read, train on and watch: Catch, observed as RGB frames.

A ball falls one row a step down a grid of `size` x `size` cells; the paddle on the bottom row
moves left, stays or moves right. When the ball reaches the bottom row the agent gets +1 if the
paddle is under it and -1 if not, and the next ball starts at the top in a random column. An
episode is `balls` balls, so returns lie in [-balls, +balls]; a random policy scores about
-7 of 10. The agent sees only the frame (`cell` pixels a cell), never the positions.

Importing this module registers `Catch-v0`, so `ezv2_lite.envs.examples:Catch-v0` is its name
anywhere an environment is named (`ezv2-lite train --preset catch` uses it). Notebook 09 writes
the same kind of game from scratch; this copy is also the image path's learning test
(tests/test_pixel_learning.py).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

BACKGROUND, BALL, PADDLE = (0, 0, 0), (255, 210, 0), (0, 160, 255)


class Catch(gym.Env):
    """Catch the falling ball with the paddle. Observation: uint8 (size * cell, size * cell, 3)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 8}
    action_names = ("left", "stay", "right")

    def __init__(
        self, size: int = 8, balls: int = 10, cell: int = 4, render_mode: str | None = None
    ):
        if size < 3 or balls < 1 or cell < 1:
            raise ValueError(
                f"Catch needs size >= 3, balls >= 1 and cell >= 1 "
                f"(got size={size}, balls={balls}, cell={cell})"
            )
        self.size, self.balls, self.cell, self.render_mode = size, balls, cell, render_mode
        side = size * cell
        self.observation_space = gym.spaces.Box(0, 255, (side, side, 3), np.uint8)
        self.action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)  # seeds self.np_random
        self.paddle = self.size // 2
        self.balls_left = self.balls
        self.new_ball()
        return self.frame(), {}

    def step(self, action):
        self.paddle = int(np.clip(self.paddle + int(action) - 1, 0, self.size - 1))
        self.ball_row += 1
        reward = 0.0
        if self.ball_row == self.size - 1:  # the ball reached the paddle's row
            reward = 1.0 if self.ball_col == self.paddle else -1.0
            self.balls_left -= 1
            self.new_ball()
        return self.frame(), reward, self.balls_left == 0, False, {}

    def render(self):
        """The frame for people: each cell 4 times larger."""
        return np.repeat(np.repeat(self.frame(), 4, axis=0), 4, axis=1)

    def new_ball(self) -> None:
        self.ball_row, self.ball_col = 0, int(self.np_random.integers(self.size))

    def frame(self) -> np.ndarray:
        grid = np.zeros((self.size, self.size, 3), np.uint8)
        grid[:] = BACKGROUND
        grid[self.size - 1, self.paddle] = PADDLE
        if self.balls_left > 0:
            grid[self.ball_row, self.ball_col] = BALL
        return np.repeat(np.repeat(grid, self.cell, axis=0), self.cell, axis=1)


if "Catch-v0" not in gym.registry:
    # (gymnasium types an entry point as a callable of **kwargs alone)
    gym.register("Catch-v0", entry_point=Catch)  # type: ignore[arg-type]
