"""An FMU is inspected and checked before it is stored: each bad archive is one clear error."""

from __future__ import annotations

import io
import zipfile

import pytest

from ontology.errors import ValidationFailed
from simulation.fmu.archive import inspect_fmu
from tests.simulation.fmus import BuiltFmus, corrupt, model_exchange_only, rewritten, windows_only


def test_the_room_fmu_is_inspected_with_its_variables_and_start_values(test_fmus: BuiltFmus) -> None:
    found = inspect_fmu(test_fmus.room.read_bytes(), name="room.fmu")
    assert found.fmi_version == "2.0"
    assert found.model_identifier == "Room"
    assert "linux64" in found.platforms
    assert not found.needs_build
    assert found.default_step == 60.0
    assert [v.name for v in found.inputs] == ["T_out", "Q"]
    assert [v.name for v in found.outputs] == ["T"]
    assert {v.name: v.start for v in found.parameters} == {"UA": 200.0, "C": 2.0e6, "T0": 20.0}
    assert all(v.kind == "real" and v.settable for v in found.parameters)


@pytest.mark.parametrize(
    ("make", "reason", "words"),
    [
        (corrupt, "not_a_zip", "is not a readable zip archive"),
        (windows_only, "no_binary", "has no binary for this platform (linux64)"),
        (model_exchange_only, "model_exchange_only", "supports model exchange only"),
    ],
)
def test_a_bad_fmu_is_refused_naming_what_is_wrong(
    test_fmus: BuiltFmus, make: object, reason: str, words: str
) -> None:
    data = make(test_fmus.room)  # type: ignore[operator]
    with pytest.raises(ValidationFailed) as caught:
        inspect_fmu(data, name="bad.fmu")
    assert caught.value.details["reason"] == reason
    assert caught.value.message.startswith("bad.fmu ")
    assert words in caught.value.message


def test_an_archive_without_a_model_description_is_refused(test_fmus: BuiltFmus) -> None:
    data = rewritten(test_fmus.room, drop=("modelDescription.xml",))
    with pytest.raises(ValidationFailed, match=r"has no modelDescription\.xml"):
        inspect_fmu(data, name="bad.fmu")


def test_an_fmi_1_fmu_is_refused(test_fmus: BuiltFmus) -> None:
    with zipfile.ZipFile(test_fmus.room) as archive:
        xml = archive.read("modelDescription.xml").decode().replace('fmiVersion="2.0"', 'fmiVersion="1.0"')
    data = rewritten(test_fmus.room, replace={"modelDescription.xml": xml.encode()})
    with pytest.raises(ValidationFailed) as caught:
        inspect_fmu(data, name="old.fmu")
    assert caught.value.details["reason"] in ("fmi_version", "invalid_model_description")


def test_an_fmu_over_the_size_bound_is_refused_before_it_is_opened(test_fmus: BuiltFmus) -> None:
    data = test_fmus.room.read_bytes()
    with pytest.raises(ValidationFailed, match=f"is {len(data)} bytes; an FMU may have at most 1024"):
        inspect_fmu(data, name="big.fmu", max_bytes=1024)


def test_a_member_path_leaving_the_archive_is_refused(test_fmus: BuiltFmus) -> None:
    buffer = io.BytesIO(test_fmus.room.read_bytes())
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("../escape.txt", b"x")
    with pytest.raises(ValidationFailed, match="unsafe path"):
        inspect_fmu(buffer.getvalue(), name="evil.fmu")
