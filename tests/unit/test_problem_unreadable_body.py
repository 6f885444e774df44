"""A body that cannot be read as JSON gets a problem that says what is wrong and where."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from services.common import problems


class _Body(BaseModel):
    a: int


def _client() -> TestClient:
    app = FastAPI()
    problems.install(app)

    @app.post("/things")
    def _post(body: _Body) -> dict[str, int]:
        return {"a": body.a}

    return TestClient(app)


def test_malformed_json_names_the_syntax_error_and_its_position() -> None:
    response = _client().post(
        "/things", content=b'{"a": 1 "b": 2}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == problems.PROBLEM
    problem = response.json()
    assert problem["detail"] == (
        "request body is not valid JSON: Expecting ',' delimiter: line 1 column 9 (char 8)"
    )
    assert problem["errors"] == [{"field": "body", "message": problem["detail"]}]


def test_a_body_that_is_not_json_says_it_must_be_application_json() -> None:
    response = _client().post("/things", content=b"a=1", headers={"content-type": "text/plain"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"] == "request body must be application/json (got text/plain)"
    assert problem["errors"][0]["field"] == "body"


def test_well_formed_json_with_a_wrong_field_still_names_the_field() -> None:
    response = _client().post(
        "/things", content=b'{"a": "x"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"] == "invalid fields: a"
    assert problem["errors"][0]["field"] == "a"
