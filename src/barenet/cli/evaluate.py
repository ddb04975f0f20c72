"""`barenet evaluate MODEL`: loss, accuracy, per-class precision/recall/F1 and a confusion matrix."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="evaluate a saved model on a dataset's test set")
    p.add_argument("model", help="a model file (.safetensors) written by barenet")
    p.add_argument("--dataset", help="mnist or fashion-mnist (default: the one the model was trained on)")
    p.add_argument("--data-dir", help="folder with the dataset files (default: the one the model was trained "
                                      "with, then the usual places)")
    p.add_argument("--plot", help="confusion matrix PNG (default: next to the model, <name>.confusion.png)")
    p.set_defaults(func=run)


def trained_data_dir(model_path, info: dict) -> str | None:
    """The data folder the model was trained with: its file's metadata, else its run folder's config.toml."""
    if info.get("data_dir"):
        return str(info["data_dir"])
    config = Path(model_path).parent / "config.toml"
    if config.is_file():
        import tomllib

        try:
            return tomllib.loads(config.read_text(encoding="utf-8")).get("data", {}).get("data_dir") or None
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
            return None
    return None


def run(args) -> int:
    from ..data.loader import load_test
    from ..errors import ConfigError
    from ..io.files import check_writable_file
    from ..models.loading import load
    from ..models.metadata import check_info
    from ..models.scaling import InputScaler
    from ..runs import reports

    model = load(args.model)
    info = model.extra
    check_info(info, model.out_features, args.model)
    plot = Path(args.plot) if args.plot else Path(args.model).with_suffix(".confusion.png")
    check_writable_file(plot, "--plot")  # before the work, not after the results are printed
    name = args.dataset or info.get("dataset", "mnist")
    ds = load_test(name, data_dir=args.data_dir or trained_data_dir(args.model, info))
    features = int(ds.test.x[0].size)
    if model.in_features != features or model.out_features != len(ds.classes):
        raise ConfigError(f"the model maps {model.in_features} inputs to {model.out_features} classes but {name} has "
                          f"{features} inputs and {len(ds.classes)} classes: evaluate it on the dataset it learnt")
    if model.loss is None:
        model.compile()
    x = InputScaler.of(model)(ds.test.x)
    result = model.evaluate(x, ds.test.y)
    counts = reports.confusion_matrix(ds.test.y, model.predict(x), len(ds.classes))
    print(f"{name} test set: {len(ds.test):,} images, loss {result['loss']:.4f}, accuracy {result['accuracy']:.2%}")
    print(reports.format_scores(reports.per_class_scores(counts, list(ds.classes)), list(ds.classes)))
    reports.plot_confusion_matrix(counts, list(ds.classes), plot, title=f"{Path(args.model).name} on {name}")
    print(f"confusion matrix: {plot}")
    return 0
