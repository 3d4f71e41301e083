from cli_helpers import edgebench, edgebench_json


def test_models_json_lists_the_documented_keys(cache_dir):
    rows = edgebench_json("models", "--json")
    assert {"name", "params", "macs", "gops", "input_shape", "top1", "top5", "source"} <= set(rows[0])
    vgg16 = [r for r in rows if r["name"] == "vgg16"][0]
    assert vgg16["params"] == 138357544 and vgg16["gops"] == 2 * vgg16["macs"] / 1e9


def test_models_table_names_every_zoo_entry(cache_dir):
    proc = edgebench("models")
    assert proc.returncode == 0
    for name in ("alexnet", "inception_v4", "lenet5", "resnet20", "bn_nin", "mobilenet_v1"):
        assert name in proc.stdout
