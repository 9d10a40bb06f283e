"""`tether tune verifier|guard --out DIR`: train the verifier or the injection guard Tether ships
(needs the ``train`` extra).

Why a command: the shipped model must be reproducible by anyone with the public data, so the
exact recipe is a command with a seed, not a notebook. torch is imported only when the command
runs, never when the CLI starts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from tether.cli._common import JSON_OPT, err_console, handle_errors, out_console, print_json
from tether.errors import ConfigError, InvalidInput

app = typer.Typer(help="Train the models Tether makes itself.", no_args_is_help=True)

_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


@app.callback()
def _group() -> None:
    """Train the models Tether makes itself."""


@app.command("verifier")
def verifier(
    out: Path = typer.Option(..., "--out", help="Folder to write model.onnx, config.json, MODEL_CARD.md, checksums."),
    seed: int = typer.Option(13, "--seed"),
    epochs: int = typer.Option(1, "--epochs"),
    data: Path = typer.Option(_DATA, "--data", help="Folder of the public labelled sets (SOURCES.md)."),
    halueval_rows: int = typer.Option(250, "--halueval-rows", help="HaluEval training rows sampled from 2000-4999."),
    scifact_repeat: int = typer.Option(
        3, "--scifact-repeat", help="Times each labelled SciFact pair is seen per epoch (augmentations once)."),
    max_len: int = typer.Option(256, "--max-len"),
    lr: float = typer.Option(8e-5, "--lr", help="Encoder learning rate (the heads use 10x)."),
    threads: int = typer.Option(2, "--threads"),
    quantize: bool = typer.Option(True, "--quantize/--no-quantize",
                                  help="Try int8 and keep it if within 0.01 of fp32."),
    as_json: bool = JSON_OPT,
) -> None:
    """Fine-tune the answers/entailment cross-encoder from the bundled MiniLM weights."""
    _verifier(out, seed, epochs, data, halueval_rows, scifact_repeat, max_len, lr, threads, quantize, as_json=as_json)


def _command(out: Path, seed: int, epochs: int, halueval_rows: int, scifact_repeat: int, max_len: int,
             lr: float) -> str:
    return (f"tether tune verifier --out {out} --seed {seed} --epochs {epochs} --halueval-rows {halueval_rows} "
            f"--scifact-repeat {scifact_repeat} --max-len {max_len} --lr {lr:g}")


@handle_errors
def _verifier(out, seed, epochs, data, halueval_rows, scifact_repeat, max_len, lr, threads, quantize, *,
              as_json) -> None:
    if (epochs < 1 or halueval_rows < 1 or scifact_repeat < 1 or not 16 <= max_len <= 512 or threads < 1
            or not 0 < lr < 1):
        raise InvalidInput("--epochs, --halueval-rows, --scifact-repeat and --threads must be >= 1; "
                           "--max-len 16-512; 0 < --lr < 1")
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ConfigError("training needs the train extra: pip install 'tether[train]'") from None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from tether.tune.train import TrainConfig
    from tether.tune.verifier import TuneConfig, tune_verifier

    cfg = TuneConfig(
        out=out, data=data, halueval_rows=halueval_rows, scifact_repeat=scifact_repeat, quantize=quantize,
        train=TrainConfig(seed=seed, epochs=epochs, max_len=max_len, threads=threads, lr=lr, head_lr=10 * lr),
        command=_command(out, seed, epochs, halueval_rows, scifact_repeat, max_len, lr),
    )
    if not err_console.is_terminal:  # a log file gets one line every 25 steps

        def log(step: int, total: int, loss: float) -> None:
            if step % 25 == 0 or step == total:
                sys.stderr.write(f"step {step}/{total} loss {loss:.3f}\n")
                sys.stderr.flush()

        info = tune_verifier(cfg, log)
    else:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err_console, transient=True) as bar:
            task = bar.add_task("training", total=None)

            def progress(step: int, total: int, loss: float) -> None:
                bar.update(task, completed=step, total=total, description=f"training (loss {loss:.3f})")

            info = tune_verifier(cfg, progress)
    summary = {"out": str(out), "precision": info["precision"], "thresholds": info["config"]["thresholds"],
               "seconds": info["seconds_total"], "train": info["stats"], "dev": info["metrics"]["dev"]}
    if as_json:
        print_json(summary)
        return
    out_console.print(f"verifier written to {out} ({info['precision']}, {info['seconds_total']} s)")
    for name, fig in info["metrics"]["dev"].items():
        shown = ", ".join(f"{k} {v}" for k, v in fig.items())
        out_console.print(f"  dev {name}: {shown}")


@app.command("guard")
def guard(
    out: Path = typer.Option(..., "--out", help="Folder to write model.onnx, config.json, MODEL_CARD.md, checksums."),
    seed: int = typer.Option(13, "--seed"),
    epochs: int = typer.Option(3, "--epochs"),
    data: Path = typer.Option(_DATA, "--data", help="Folder holding injection/deepset-dev.jsonl (SOURCES.md)."),
    max_len: int = typer.Option(128, "--max-len"),
    lr: float = typer.Option(2e-4, "--lr", help="Learning rate of the upper layers (the head uses 20x)."),
    threads: int = typer.Option(2, "--threads"),
    loso: bool = typer.Option(True, "--loso/--no-loso",
                              help="Also train one model per held-out family and report leave-one-source-out figures."),
    loso_epochs: int = typer.Option(2, "--loso-epochs"),
    loso_only: bool = typer.Option(False, "--loso-only",
                                   help="Only (re)run leave-one-source-out for the model already in --out."),
    quantize: bool = typer.Option(True, "--quantize/--no-quantize", help="Keep int8 if its dev AUC is within 0.01."),
    as_json: bool = JSON_OPT,
) -> None:
    """Fine-tune the prompt-injection classifier from the bundled MiniLM weights."""
    _guard(out, seed, epochs, data, max_len, lr, threads, loso, loso_epochs, quantize, loso_only, as_json=as_json)


@handle_errors
def _guard(out, seed, epochs, data, max_len, lr, threads, loso, loso_epochs, quantize, loso_only, *,
           as_json) -> None:
    if epochs < 1 or loso_epochs < 1 or threads < 1 or not 16 <= max_len <= 512 or not 0 < lr < 1:
        raise InvalidInput("--epochs, --loso-epochs and --threads must be >= 1; --max-len 16-512; 0 < --lr < 1")
    if not (data / "injection" / "deepset-dev.jsonl").is_file():
        raise InvalidInput(f"no injection/deepset-dev.jsonl under {data}")
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ConfigError("training needs the train extra: pip install 'tether[train]'") from None
    from tether.tune.guard import GuardTuneConfig, rerun_loso, tune_guard
    from tether.tune.train import TrainConfig

    if loso_only and not (out / "metrics.json").is_file():
        raise InvalidInput(f"--loso-only needs a model folder written by `tether tune guard`: {out}")
    command = (f"tether tune guard --out {out} --seed {seed} --epochs {epochs} --max-len {max_len} --lr {lr:g}"
               f" {'--loso' if loso else '--no-loso'} --loso-epochs {loso_epochs}{' --loso-only' if loso_only else ''}")
    cfg = GuardTuneConfig(out=out, data=data, quantize=quantize, loso=loso, loso_epochs=loso_epochs, command=command,
                          train=TrainConfig(seed=seed, epochs=epochs, batch_size=16, lr=lr, head_lr=20 * lr,
                                            max_len=max_len, threads=threads))

    def log(message: str) -> None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    def progress(step: int, total: int, loss: float) -> None:
        if step % 25 == 0 or step == total:
            log(f"step {step}/{total} loss {loss:.3f}")

    info = rerun_loso(cfg, log) if loso_only else tune_guard(cfg, progress, log)
    summary = {"out": str(out), "precision": info["precision"], "thresholds": info["config"]["thresholds"],
               "seconds": info["seconds_total"], "train": info["stats"], "dev": info["metrics"]["dev"],
               "loso": info["loso"]}
    if as_json:
        print_json(summary)
        return
    out_console.print(f"injection guard written to {out} ({info['precision']}, {info['seconds_total']} s)")
    for name, fig in [*info["metrics"]["dev"].items(), *(("loso:" + k, v) for k, v in info["loso"].items())]:
        out_console.print(f"  {name}: recall {fig['recall']} fpr {fig['fpr']} auc {fig['auc']}")
