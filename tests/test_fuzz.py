"Hypothesis fuzzing: the config loader, the .genes parser and the inflation mapping."
import string
import warnings

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from cellvae.core import ConfigError, InputError
from cellvae.data import gene_map, parse_genes
from cellvae.settings import Config, default_config_dict, load_config

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.lists(st.integers(-5, 300), max_size=4))
keys = st.one_of(st.sampled_from(["seed", "train", "model", "data", "max_epochs", "batch_size", "hidden_dims",
                                  "latent_dim", "likelihood", "cluster", "selection", "nope"]), st.text(max_size=8))
nested = st.recursive(scalars, lambda kids: st.dictionaries(keys, kids, max_size=4), max_leaves=12)


def _valid_or_clear(fn):
    try:
        cfg = fn()
    except ConfigError as e:
        assert str(e) and "\n" not in str(e)
        return None
    assert isinstance(cfg, Config)
    return cfg


@FAST
@given(doc=st.dictionaries(keys, nested, max_size=4))
def test_config_file_is_valid_or_a_clear_error(tmp_path_factory, doc):
    p = tmp_path_factory.mktemp("cfg") / "c.yaml"
    p.write_text(yaml.safe_dump(doc))
    _valid_or_clear(lambda: load_config(p, env={}, profile=False))


@FAST
@given(section=st.sampled_from(list(default_config_dict())), key=st.text(string.ascii_letters + "_", min_size=1, max_size=15),
       value=st.text(max_size=20))
def test_env_values_are_valid_or_a_clear_error(section, key, value):
    var = f"CELLVAE_{section.upper()}__{key.upper()}" if section != "seed" else "CELLVAE_SEED"
    _valid_or_clear(lambda: load_config(env={var: value}, profile=False))


@FAST
@given(value=st.text(max_size=10))
def test_known_env_keys_are_typed(value):
    cfg = _valid_or_clear(lambda: load_config(env={"CELLVAE_TRAIN__MAX_EPOCHS": value}, profile=False))
    if cfg is not None:
        assert isinstance(cfg.train.max_epochs, int) and cfg.train.max_epochs == int(value.strip())


@FAST
@given(text=st.text(alphabet=st.sampled_from(list("ABC xy\n\r\t\ufeff-_.")), max_size=60))
def test_genes_parser_returns_names_or_a_clear_error(text):
    try:
        genes = parse_genes(text, "s.genes")
    except InputError as e:
        assert str(e).startswith("s.genes:")
        return
    assert genes and all(g and g == g.strip() for g in genes) and len(set(genes)) == len(genes)


gene_names = st.lists(st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=3), unique=True, min_size=1, max_size=25)


@FAST
@given(model=gene_names, sample=gene_names, seed=st.integers(0, 2**16))
def test_inflation_equals_a_reference_built_by_name(model, sample, seed):
    X = np.random.default_rng(seed).poisson(2, (6, len(sample))).astype(np.float32)
    if not set(model) & set(sample):
        with pytest.raises(InputError, match="none of its"):
            gene_map(model, sample)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = gene_map(model, sample)
    ref = np.zeros((6, len(model)), np.float32)
    for j, g in enumerate(model):
        if g in sample:
            ref[:, j] = X[:, sample.index(g)]
    np.testing.assert_array_equal(gm.apply(X), ref)
    import scipy.sparse as sp
    np.testing.assert_array_equal(gm.apply(sp.csr_matrix(X)), ref)
    assert gm.n_overlap == len(set(model) & set(sample))


# ------------------------------------------------------------------------------------------------------------
# The .h5ad readers on damaged files: every reader that `cellvae inspect`, `train`, `pipeline` and `encode` use
# either reads the file or raises an InputError (one line); never another exception.

import functools
import itertools
from pathlib import Path

import onnx
import onnx.helper as oh
from onnx import numpy_helper
from typer.testing import CliRunner

from cellvae.core import CellvaeError

QUICK = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _tiny_encoder(path: Path, genes: list, latent: int = 2) -> Path:
    "A minimal encoder.onnx (counts [cells, genes] -> latent [cells, latent], a MatMul) and its .genes: no torch export."
    w = numpy_helper.from_array(np.linspace(-1, 1, len(genes) * latent, dtype=np.float32).reshape(len(genes), latent), "w")
    io = [oh.make_tensor_value_info("counts", onnx.TensorProto.FLOAT, [None, len(genes)]),
          oh.make_tensor_value_info("latent", onnx.TensorProto.FLOAT, [None, latent])]
    graph = oh.make_graph([oh.make_node("MatMul", ["counts", "w"], ["latent"])], "enc", io[:1], io[1:], [w])
    onnx.save(oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], ir_version=8), path)
    path.with_suffix(".genes").write_text("\n".join(genes) + "\n")
    return path


def _tiny_cluster_model(path: Path, latent: int = 2) -> Path:
    "A minimal cluster.onnx (encodings -> labels = argmax, probabilities = max): the interface, not HDBSCAN."
    io = [oh.make_tensor_value_info("encodings", onnx.TensorProto.FLOAT, [None, latent]),
          oh.make_tensor_value_info("labels", onnx.TensorProto.INT64, [None]),
          oh.make_tensor_value_info("probabilities", onnx.TensorProto.FLOAT, [None])]
    nodes = [oh.make_node("ArgMax", ["encodings"], ["labels"], axis=1, keepdims=0),
             oh.make_node("ReduceMax", ["encodings"], ["probabilities"], axes=[1], keepdims=0)]
    onnx.save(oh.make_model(oh.make_graph(nodes, "clu", io[:1], io[1:]), opset_imports=[oh.make_opsetid("", 17)],
                            ir_version=8), path)
    return path


@pytest.fixture(scope="module")
def h5ad_work(tmp_path_factory):
    "A real small .h5ad (counts in X and layers['counts']), its bytes, an encoder for its genes, and a folder for variants."
    from cellvae.data import synthetic_counts
    d = tmp_path_factory.mktemp("h5ad")
    a = synthetic_counts(n_cells=20, n_genes=8, seed=0)
    a.write_h5ad(d / "real.h5ad")
    enc = _tiny_encoder(d / "encoder.onnx", list(a.var_names))
    return d, (d / "real.h5ad").read_bytes(), enc


def _h5ad_readers(encoder: Path) -> dict:
    from cellvae.data import read_counts, read_h5ad
    from cellvae.encode import SampleReader, encode

    def backed(p):
        read_h5ad(p, backed="r").file.close()

    def streamed(p, layer=None):
        with SampleReader(p, layer=layer) as r: r.rows(0, r.n_cells)

    # read_counts reads with read_h5ad, and encode streams X with SampleReader: both are covered through them
    return {"read_h5ad(backed)": backed, "read_counts": read_counts,
            "SampleReader(layer=counts)": functools.partial(streamed, layer="counts"),
            "encode": lambda p: encode(encoder, p, quiet=True)}


def _reads_or_input_error(path: Path, readers: dict) -> dict:
    "Run every reader on `path`; fail on any exception other than a one-line CellvaeError."
    out = {}
    for name, read in readers.items():
        try:
            read(path); out[name] = "read"
        except CellvaeError as e:
            assert str(e) and "\n" not in str(e), (name, str(e))
            out[name] = "InputError"
        except Exception as e:
            pytest.fail(f"{name}({path.name}) raised {type(e).__name__}: {e}")
    return out


_variant = itertools.count()


def _write_variant(d: Path, data: bytes) -> Path:
    "A fresh file name for each example: a reader that fails may leave its HDF5 handle open."
    p = d / f"v{next(_variant)}.h5ad"
    p.write_bytes(data)
    return p


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4096), hdf5_signature=st.booleans())
def test_h5ad_readers_on_random_bytes(h5ad_work, data, hdf5_signature):
    d, _, enc = h5ad_work
    p = _write_variant(d, (b"\x89HDF\r\n\x1a\n" if hdf5_signature else b"") + data)
    assert set(_reads_or_input_error(p, _h5ad_readers(enc)).values()) == {"InputError"}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0, 1, exclude_max=True))
def test_h5ad_readers_on_truncated_files(h5ad_work, cut):
    d, real, enc = h5ad_work
    p = _write_variant(d, real[: int(cut * len(real))])
    assert set(_reads_or_input_error(p, _h5ad_readers(enc)).values()) == {"InputError"}


def _metadata_signatures(data: bytes) -> list[int]:
    "Offsets of the HDF5 metadata blocks (B-tree nodes, local heaps, symbol-table nodes, global heaps) in a file."
    return sorted(i for sig in (b"TREE", b"HEAP", b"SNOD", b"GCOL") for i in range(len(data)) if data.startswith(sig, i))


def _damaged(h5ad_work, readers: list) -> dict:
    "Each metadata block's signature broken in turn (a deterministic sweep: random byte flips can crash libhdf5)."
    d, real, enc = h5ad_work
    chosen = {k: v for k, v in _h5ad_readers(enc).items() if k in readers}
    out = {}
    for off in _metadata_signatures(real):
        b = bytearray(real); b[off] ^= 0xFF
        out[off] = _reads_or_input_error(_write_variant(d, bytes(b)), chosen)
    return out


def test_whole_file_readers_on_damaged_metadata(h5ad_work):
    "What `cellvae inspect`, `train` and `pipeline` read: a damaged block is an InputError or does not matter."
    assert _damaged(h5ad_work, ["read_h5ad(backed)", "read_counts"])


def test_streaming_reader_on_damaged_metadata(h5ad_work):
    assert _damaged(h5ad_work, ["SampleReader(layer=counts)", "encode"])


# ------------------------------------------------------------------------------------------------------------
# The command line's numeric options: random numbers and text give exit 0, 1 or 2, never an uncaught exception,
# and a failure is one line starting with "Error".

runner = CliRunner()
option_text = st.one_of(st.integers(-2**70, 2**70).map(str), st.integers(-3, 40).map(str), st.text(max_size=6),
                        st.sampled_from(["", " 3", "+3", "1_0", "1e3", "0x10", "\u0663", "3.0", "-0", "nan", "--quiet"]))
maybe = st.one_of(st.none(), option_text)


def _options(**values) -> list:
    return [a for name, v in values.items() if v is not None for a in (f"--{name.replace('_', '-')}", v)]


def _invoke(args: list):
    r = runner.invoke(__import__("cellvae.cli", fromlist=["app"]).app, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), (args, repr(r.exception), r.output[-1500:])
    assert r.exit_code in (0, 1, 2), (args, r.exit_code)
    if r.exit_code:
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        errors = [l for l in lines if l.startswith("Error")]
        assert len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in r.output, (args, r.stderr)
    return r


@pytest.fixture(scope="module")
def cli_work(tmp_path_factory, h5ad_work):
    "Inputs for every command, tiny enough that a valid call runs in milliseconds (no torch export, no training)."
    d = tmp_path_factory.mktemp("cli")
    _, real, _ = h5ad_work
    (d / "s.h5ad").write_bytes(real)
    from cellvae.data import read_h5ad
    _tiny_encoder(d / "encoder.onnx", list(read_h5ad(d / "s.h5ad").var_names))
    _tiny_cluster_model(d / "cluster.onnx")
    np.save(d / "s-encodings.npy", np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32))
    np.save(d / "one-encodings.npy", np.zeros((1, 2), np.float32))  # too few cells to fit: train-clusters never exports
    return d


@QUICK
@given(batch_size=maybe, num_samples=maybe)
def test_encode_numeric_options(cli_work, clean_env, batch_size, num_samples):
    d = cli_work
    _invoke(["encode", d / "encoder.onnx", d / "s.h5ad", "--output", clean_env / "z.npy", "-q",
             *_options(batch_size=batch_size, num_samples=num_samples)])


@QUICK
@given(batch_size=maybe, num_samples=maybe)
def test_cluster_numeric_options(cli_work, clean_env, batch_size, num_samples):
    d = cli_work
    _invoke(["cluster", d / "cluster.onnx", d / "s-encodings.npy", "--output", clean_env / "l-cluster-labels.npy",
             *_options(batch_size=batch_size, num_samples=num_samples)])


@QUICK
@given(min_cluster_size=maybe, min_samples=maybe, num_samples=maybe)
def test_train_clusters_numeric_options(cli_work, clean_env, min_cluster_size, min_samples, num_samples):
    d = cli_work
    r = _invoke(["train-clusters", d / "one-encodings.npy", clean_env / "c.onnx",
                 *_options(min_cluster_size=min_cluster_size, min_samples=min_samples, num_samples=num_samples)])
    assert r.exit_code != 0 and not (clean_env / "c.onnx").exists()


@QUICK
@given(cmd=st.sampled_from(["train", "pipeline"]), max_epochs=maybe, batch_size=maybe, seed=maybe)
def test_train_numeric_options_dry_run(cli_work, clean_env, cmd, max_epochs, batch_size, seed):
    _invoke([cmd, cli_work / "s.h5ad", "--dry-run", "-o", clean_env / "runs", "--run-id", "x",
             *_options(max_epochs=max_epochs, batch_size=batch_size, seed=seed)])
    assert not (clean_env / "runs").exists()
