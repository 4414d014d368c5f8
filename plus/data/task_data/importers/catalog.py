"""Every import format by name (`format`, or `format:kind` for a format with several kinds): the one registry.

A new format is added here by hand; `plus.data.task_data.importers.registry` returns this dict.
"""

from __future__ import annotations

from plus.data.task_data.declarations import Format
from plus.data.task_data.importers import flip, generic, homology, protein, residue, tape

_ALL: tuple[Format, ...] = (
    flip.import_flip_fasta,
    generic.import_table,
    homology.import_scope_bepler,
    homology.import_plus_homology,
    homology.import_plus_homology_train,
    homology.import_plus_homology_pairs,
    protein.import_deepsol,
    protein.import_deeploc,
    protein.import_plus_label,
    protein.import_plus_localization,
    residue.import_netsurfp_csv,
    residue.import_plus_secstr,
    residue.import_topcons_3line,
    residue.import_plus_3line,
    tape.import_tape_json,
    tape.import_tape_lmdb,
    tape.import_tape_csv,
)

FORMATS: dict[str, Format] = {fmt.name: fmt for fmt in _ALL}
if len(FORMATS) != len(_ALL):
    raise RuntimeError("two import formats share a name")
