"""The course's setting: the fast setting wins, then a CUDA GPU, then the CPU (ezv2_lite/course.py)."""
import torch

from ezv2_lite.course import CourseSetting, course_setting


def test_budget_prefers_fast_then_gpu_then_cpu():
    budgets = dict(fast=1, cpu=10, gpu=100)
    assert CourseSetting(torch.device("cpu"), fast=True).budget(**budgets) == 1
    assert CourseSetting(torch.device("cuda"), fast=True).budget(**budgets) == 1
    assert CourseSetting(torch.device("cuda"), fast=False).budget(**budgets) == 100
    assert CourseSetting(torch.device("cpu"), fast=False).budget(**budgets) == 10
    assert CourseSetting(torch.device("cuda"), fast=False).budget(fast=1, cpu=10) == 10  # gpu defaults to cpu
    assert [CourseSetting(torch.device(d), f).kind for d, f in [("cpu", True), ("cuda", False), ("cpu", False)]] \
        == ["fast", "gpu", "cpu"]


def test_course_setting_reads_the_fast_variable_and_the_device(monkeypatch):
    monkeypatch.setenv("EZV2_FAST", "1")
    setting = course_setting()
    assert setting.fast and setting.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert "budgets: fast (EZV2_FAST=1)" in str(setting)
    monkeypatch.setenv("EZV2_FAST", "0")
    assert not course_setting().fast
    if not torch.cuda.is_available():
        assert str(course_setting()).startswith("device: cpu") and "full, sized for the CPU" in str(course_setting())
