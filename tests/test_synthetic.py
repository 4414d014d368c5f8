"""The synthetic benchmark: deterministic, fast, every file in its official format, labels learnable."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import BernoulliNB

from plus.cli import main
from plus.data.synthetic import FILES, TASK_SPLITS, generate
from plus.data.synthetic.hmms import real_pfam_hmms
from plus.errors import InputError
from plus.settings import SyntheticSettings, parse_settings
from plus.tasks import LOCALIZATION_CLASSES, SECSTR3_OF_8, SECSTR8

REPO = Path(__file__).resolve().parents[1]
AA = "ACDEFGHIKLMNPQRSTVWY"
PFAM_HEADER = re.compile(r">(\w+)/(\d+)-(\d+) (\S+\.\d+) (PF\d{5}\.\d+);([\w.-]+);")
ASTRAL_HEADER = re.compile(r">(d[0-9a-z]{4}a_) ([a-z]\.\d+\.\d+\.\d+) \(A:\) synthetic \{synthetic\}")
SMALL = {
    "seed": 7,
    "n_classes": 2,
    "n_families": 16,
    "sequences_per_family": 10,
    "tasks": {task: {split: 12 for split in splits} for task, splits in TASK_SPLITS.items()},
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The benchmark at the default demo sizes, and how long it took."""
    out = tmp_path_factory.mktemp("synthetic") / "demo"
    started = time.perf_counter()
    generate(SyntheticSettings(), out)
    return out, time.perf_counter() - started


def md5s(directory: Path) -> dict[str, str]:
    """md5 of every data file and manifest.json (not config.json, the run record marking the directory as ours)."""
    return {
        str(p.relative_to(directory)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p != directory / "config.json"
    }


def fasta(path: Path) -> list[tuple[str, str]]:
    records: list[tuple[str, str]] = []
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line.startswith(">"):
                records.append((line, ""))
            else:
                records[-1] = (records[-1][0], records[-1][1] + line)
    return records


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def composition(sequence: str) -> np.ndarray:
    return np.array([sequence.count(a) for a in AA], dtype=float) / len(sequence)


def windows(sequence: str, width: int) -> np.ndarray:
    """One-hot residues in a window of +-width around each position (21st letter = off the end)."""
    padded = np.full(len(sequence) + 2 * width, 20)
    padded[width : width + len(sequence)] = [AA.index(c) for c in sequence]
    index = np.arange(len(sequence))[:, None] + np.arange(2 * width + 1)[None, :]
    onehot = np.zeros((len(sequence), 2 * width + 1, 21))
    np.put_along_axis(onehot, padded[index][..., None], 1, axis=2)
    return onehot.reshape(len(sequence), -1)


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path: Path) -> None:
    generate(SyntheticSettings(**SMALL), tmp_path / "a")
    generate(SyntheticSettings(**SMALL), tmp_path / "b")
    generate(SyntheticSettings(**{**SMALL, "seed": 8}), tmp_path / "c")
    first, second, other = md5s(tmp_path / "a"), md5s(tmp_path / "b"), md5s(tmp_path / "c")
    assert first == second
    assert len(first) == 27  # 26 data files + manifest.json
    assert first["Pfam-A.fasta.gz"] != other["Pfam-A.fasta.gz"]
    assert first["secstr/CB513_HHblits.csv"] != other["secstr/CB513_HHblits.csv"]


def test_demo_sizes_generate_in_seconds(demo: tuple[Path, float]) -> None:
    assert demo[1] < 30  # ~2-5 s measured on a shared 2-core machine


def test_manifest_lists_every_file_with_its_md5(demo: tuple[Path, float]) -> None:
    out = demo[0]
    manifest = json.loads((out / "manifest.json").read_text())
    on_disk = {k: v for k, v in md5s(out).items() if k != "manifest.json"}
    assert manifest["files"] == on_disk
    assert set(on_disk) == set(FILES)  # the list the workflow declares as rule synthetic's outputs
    assert manifest["seed"] == SyntheticSettings().seed
    assert set(manifest["label_rules"]) >= {"homology", "secstr", "transmembrane", "stability"}
    assert manifest["real_pfam_hmms"] == [f"{h.accession} {h.name}" for h in real_pfam_hmms()]


def test_pfam_headers_follow_pfam_a_fasta(demo: tuple[Path, float]) -> None:
    records = fasta(demo[0] / "Pfam-A.fasta.gz")
    assert len(records) == SyntheticSettings().n_families * SyntheticSettings().sequences_per_family
    families = {}
    for header, sequence in records:
        match = PFAM_HEADER.fullmatch(header)
        assert match, header
        assert int(match[3]) - int(match[2]) + 1 == len(sequence)
        assert set(sequence) <= set(AA)
        families[match[5]] = match[6]
    assert len(families) == SyntheticSettings().n_families == len(set(families.values()))
    lengths = [len(s) for _, s in records]
    assert 40 <= np.median(lengths) <= 200


def test_real_pfam_hmms_root_the_first_classes(demo: tuple[Path, float]) -> None:
    real = real_pfam_hmms()
    assert {h.accession.split(".")[0] for h in real} >= {"PF02826", "PF05893"}  # shipped by pyhmmer 0.12.3
    families = json.loads((demo[0] / "manifest.json").read_text())["families"]
    origins = {f["sccs"][0]: f["origin"] for f in families}
    assert all(real[i].accession in origins["abcd"[i]] for i in range(len(real)))
    assert "HMM.sample" in origins["d"]


def test_homology_files(demo: tuple[Path, float]) -> None:
    out = demo[0] / "homology"
    train = fasta(out / "astral-2.06.train.fa")
    assert len(train) == 400 and all(ASTRAL_HEADER.fullmatch(h) for h, _ in train)
    for name, n in (("astral-2.06.dev.sampledpairs.txt", 100), ("astral-2.06.test.sampledpairs.txt", 150)):
        rows = list(csv.DictReader(open(out / name), delimiter="\t"))
        assert list(rows[0]) == ["sequence_A", "sequence_B", "similarity"]
        assert len(rows) == n
        assert sorted({int(r["similarity"]) for r in rows}) == [0, 1, 2, 3, 4]


def test_homology_similarity_shows_in_alignment_scores(demo: tuple[Path, float]) -> None:
    from Bio.Align import PairwiseAligner, substitution_matrices

    aligner = PairwiseAligner(mode="local", open_gap_score=-11, extend_gap_score=-1)
    aligner.substitution_matrix = substitution_matrices.load("BLOSUM62")
    rows = list(csv.DictReader(open(demo[0] / "homology/astral-2.06.test.sampledpairs.txt"), delimiter="\t"))
    rows = rows[:60]
    scores = [aligner.score(r["sequence_A"], r["sequence_B"]) for r in rows]
    assert spearmanr(scores, [int(r["similarity"]) for r in rows])[0] > 0.5


def test_solubility_files_and_composition_model_beats_chance(demo: tuple[Path, float]) -> None:
    out = demo[0] / "solubility"
    data = {}
    for split, n in (("train", 400), ("val", 100), ("test", 150)):
        src, tgt = lines(out / f"{split}_src"), lines(out / f"{split}_tgt")
        assert len(src) == len(tgt) == n and set(tgt) == {"0", "1"}
        data[split] = (np.array([composition(s) for s in src]), np.array(tgt))
    model = LogisticRegression(C=10, max_iter=2000).fit(*data["train"])
    assert (model.predict(data["test"][0]) == data["test"][1]).mean() > 0.55


def test_localization_file_and_terminal_model_beats_chance(demo: tuple[Path, float]) -> None:
    records = fasta(demo[0] / "localization/deeploc_data.fasta")
    header = re.compile(r">SYN\d{5} ([\w./]+)-([MSU])( test)?")
    splits: dict[str, list[tuple[np.ndarray, str]]] = {"train": [], "test": []}
    for head, sequence in records:
        match = header.fullmatch(head)
        assert match and match[1] in LOCALIZATION_CLASSES, head
        features = np.concatenate([composition(sequence[:25]), composition(sequence[-10:]), composition(sequence)])
        splits["test" if match[3] else "train"].append((features, match[1]))
    assert len(splits["train"]) == 500 and len(splits["test"]) == 150
    x, y = map(np.array, zip(*splits["train"], strict=True))
    model = LogisticRegression(C=10, max_iter=3000).fit(x, y)
    tx, ty = map(np.array, zip(*splits["test"], strict=True))
    majority = max(np.unique(ty, return_counts=True)[1]) / len(ty)
    assert (model.predict(tx) == ty).mean() > 2 * majority


def tape(path: Path, label: str) -> list[dict]:
    records = json.loads(path.read_text())
    for record in records:
        assert record["protein_length"] == len(record["primary"]) and set(record["primary"]) <= set(AA)
        assert isinstance(record["id"], str)
        if label in ("stability_score", "log_fluorescence"):
            assert isinstance(record[label], list) and len(record[label]) == 1
    return records


def test_stability_json_and_composition_model_beats_chance(demo: tuple[Path, float]) -> None:
    out = demo[0] / "stability"
    data = {split: tape(out / f"stability_{split}.json", "stability_score") for split in ("train", "valid", "test")}
    assert [len(data[s]) for s in data] == [400, 100, 150]
    assert {"topology", "parent"} <= set(data["train"][0])
    x = [composition(r["primary"]) for r in data["train"]]
    model = Ridge(1.0).fit(x, [r["stability_score"][0] for r in data["train"]])
    predicted = model.predict([composition(r["primary"]) for r in data["test"]])
    assert spearmanr(predicted, [r["stability_score"][0] for r in data["test"]])[0] > 0.2


def test_fluorescence_mutants_of_one_wild_type(demo: tuple[Path, float]) -> None:
    out = demo[0] / "fluorescence"
    data = {s: tape(out / f"fluorescence_{s}.json", "log_fluorescence") for s in ("train", "valid", "test")}
    wild = [r["primary"] for r in data["train"] if r["num_mutations"] == 0]
    assert len(wild) == 1
    seen = set()
    for split, records in data.items():
        for record in records:
            differences = sum(a != b for a, b in zip(record["primary"], wild[0], strict=True))
            assert differences == record["num_mutations"]
            assert (differences >= 4) == (split == "test")
            assert record["primary"] not in seen
            seen.add(record["primary"])

    def onehot(sequence: str) -> np.ndarray:
        features = np.zeros((len(wild[0]), 20))
        for position, (a, b) in enumerate(zip(wild[0], sequence, strict=True)):
            if a != b:
                features[position, AA.index(b)] = 1
        return features.ravel()

    model = Ridge(1.0).fit(
        [onehot(r["primary"]) for r in data["train"]], [r["log_fluorescence"][0] for r in data["train"]]
    )
    predicted = model.predict([onehot(r["primary"]) for r in data["test"]])
    assert spearmanr(predicted, [r["log_fluorescence"][0] for r in data["test"]])[0] > 0.1


def test_secstr_json_and_netsurfp_csv(demo: tuple[Path, float]) -> None:
    out = demo[0] / "secstr"
    for split, n in (("train", 400), ("valid", 100), ("casp12", 150)):
        records = tape(out / f"secondary_structure_{split}.json", "ss8")
        assert len(records) == n
        for r in records:
            assert len(r["ss8"]) == len(r["ss3"]) == len(r["valid_mask"]) == r["protein_length"]
            assert [SECSTR3_OF_8[i] for i in r["ss8"]] == ["HEC"[i] for i in r["ss3"]]
            assert all(isinstance(v, bool) for v in r["valid_mask"])
    for name in ("CB513_HHblits.csv", "TS115_HHblits.csv"):
        text = lines(out / name)
        assert text[0] == "input, dssp3, dssp8, disorder, cb513_mask" and len(text) == 151
        for row in text[1:]:
            residues, dssp3, dssp8, disorder, mask = (column.split() for column in row.split(","))
            assert len(residues) == len(dssp3) == len(dssp8) == len(disorder) == len(mask)
            assert set(dssp8) <= set(SECSTR8) and [SECSTR3_OF_8[SECSTR8.index(c)] for c in dssp8] == dssp3
            assert set(disorder) <= {"0.0", "1.0"}


def test_secstr_is_learnable_from_local_sequence(demo: tuple[Path, float]) -> None:
    out = demo[0] / "secstr"
    train = json.loads((out / "secondary_structure_train.json").read_text())[:60]
    test = json.loads((out / "secondary_structure_casp12.json").read_text())[:40]
    x = np.concatenate([windows(r["primary"], 3) for r in train])
    model = BernoulliNB().fit(x, np.concatenate([r["ss3"] for r in train]))
    truth = np.concatenate([r["ss3"] for r in test])
    accuracy = (model.predict(np.concatenate([windows(r["primary"], 3) for r in test])) == truth).mean()
    assert accuracy > np.bincount(truth).max() / len(truth) + 0.05


def read_3line(path: Path) -> list[tuple[str, str, str]]:
    text = lines(path)
    assert len(text) % 3 == 0
    return [(text[i], text[i + 1], text[i + 2]) for i in range(0, len(text), 3)]


def test_transmembrane_3line_topologies(demo: tuple[Path, float]) -> None:
    records = {s: read_3line(demo[0] / f"transmembrane/{s}.3line") for s in ("train", "valid", "test")}
    assert [len(r) for r in records.values()] == [400, 100, 150]
    signal = 0
    for name, sequence, topology in (r for split in records.values() for r in split):
        assert name.startswith(">") and len(sequence) == len(topology) and set(sequence) <= set(AA)
        assert re.fullmatch(r"S*(?:[IO]+M{21})+[IO]+", topology), topology
        helices = re.findall(r"[IO]+(?=M)", topology)
        assert all(a[0] != b[0] for a, b in zip(helices, helices[1:], strict=False))  # loops alternate
        signal += topology.startswith("S")
    assert 0 < signal < 650
    train = records["train"][:100]
    x = np.concatenate([windows(s, 5) for _, s, _ in train])
    y = np.array([c == "M" for _, _, t in train for c in t])
    model = BernoulliNB().fit(x, y)
    test = records["test"][:40]
    truth = np.array([c == "M" for _, _, t in test for c in t])
    assert (model.predict(np.concatenate([windows(s, 5) for _, s, _ in test])) == truth).mean() > 0.85


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"synthetic": {"n_familes": 40}}, "synthetic.n_familes"),
        ({"tasks": {"secstr": {"test": 5}}}, "synthetic.tasks.secstr.test"),
        ({"tasks": {"solubility": {"train": -1}}}, "synthetic.tasks.solubility.train"),
        ({"n_families": 5}, "n_families"),
        ({"hmm_length": [80, 60]}, "synthetic.hmm_length"),
    ],
)
def test_bad_config_names_the_key(config: dict, key: str) -> None:
    with pytest.raises(InputError, match=re.escape(key)):
        parse_settings(SyntheticSettings, config.get("synthetic", config), "synthetic")


def test_cli_writes_the_benchmark(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(SMALL))
    assert main(["synthetic", "--settings", str(config), "--out", str(tmp_path / "out")]) == 0
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert manifest["config"]["seed"] == 7 and len(manifest["files"]) == 26
    (tmp_path / "bad.yaml").write_text("seed: -3\n")
    assert main(["synthetic", "--settings", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


def test_every_task_imports_through_its_real_importer(demo: tuple[Path, float], tmp_path: Path) -> None:
    """The demo config's sources (config/config.yaml) read the synthetic files with the real importers."""
    from plus.data.task_data.canonical import read_split
    from plus.data.task_data.importing import import_task
    from plus.tasks import BUILTIN_TASKS

    tasks = yaml.safe_load((REPO / "config/config.yaml").read_text())["tasks"]
    assert set(tasks) == set(BUILTIN_TASKS)
    text = json.dumps(tasks).replace("resources/synthetic/", f"{demo[0]}/")
    for name, config in json.loads(text).items():
        summary = import_task({"task": name, **config}, tmp_path / name, f"tasks.{name}")
        assert summary["dropped"] == {} or not any(summary["dropped"].values()), (name, summary["dropped"])
        for split in ("train", "valid", *BUILTIN_TASKS[name].test_splits):
            table = read_split(tmp_path / name, split)
            assert len(table) > 0, (name, split)


def test_family_knowledge_from_pfam_helps(demo: tuple[Path, float]) -> None:
    """What pretraining can learn (which Pfam family a sequence belongs to) predicts the labels: assigning
    each protein to its nearest mini-Pfam family by 3-mer profile beats composition alone."""
    from sklearn.feature_extraction.text import HashingVectorizer

    pfam = fasta(demo[0] / "Pfam-A.fasta.gz")
    families = np.array([header.split()[2].split(";")[1] for header, _ in pfam])
    names = sorted(set(families))
    kmers = HashingVectorizer(analyzer="char", ngram_range=(3, 3), n_features=2**14, alternate_sign=False)
    profiles = kmers.transform([s for _, s in pfam])
    centroids = np.vstack([np.asarray(profiles[families == name].mean(axis=0)) for name in names])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)

    def features(sequences: list[str], with_family: bool) -> np.ndarray:
        base = np.array([composition(s) for s in sequences])
        if not with_family:
            return base
        nearest = (kmers.transform(sequences).toarray() @ centroids.T).argmax(axis=1)
        return np.hstack([base, np.eye(len(names))[nearest]])

    out = demo[0] / "solubility"
    train, test = lines(out / "train_src"), lines(out / "test_src")
    accuracy = {}
    for with_family in (False, True):
        model = LogisticRegression(C=10, max_iter=2000).fit(features(train, with_family), lines(out / "train_tgt"))
        accuracy[with_family] = (model.predict(features(test, with_family)) == lines(out / "test_tgt")).mean()
    assert accuracy[True] > accuracy[False] + 0.04
