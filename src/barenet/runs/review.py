"""Reviewer hints: one-line notes on fragile choices in a configuration, printed before training."""

from __future__ import annotations


def review(config: dict) -> list[str]:
    """The recipe's own hints, plus what a reviewer would say about the setup."""
    hints = list(config.get("hints", []))
    model, loss, opt, train = config["model"], config["loss"], config["optimizer"], config["train"]
    if loss["name"] in ("mse", "mean_squared_error") and model["output"] == "softmax":
        hints.append("MSE on softmax outputs has weak gradients when the network is confidently wrong; "
                     "softmax_cross_entropy learns faster")
    if config["data"]["scale"] == "none":
        hints.append("inputs are raw 0-255 pixels: sigmoid/softmax units saturate; use data.scale = 'unit'")
    if train["batch_size"] == 1 and opt["lr"] <= 0.001 and opt["name"] == "sgd" and not opt.get("momentum"):
        hints.append(f"per-sample SGD at lr {opt['lr']} takes small steps; lr 0.01 learns several times faster")
    if loss.get("reduction") == "sum" and train["batch_size"] not in (1,):
        hints.append("summed (not averaged) gradients make the effective step grow with the batch size")
    return hints
