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
