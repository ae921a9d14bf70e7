"""The API's OpenAPI 3.1 document, written out by hand so it states exactly what we promise."""

from __future__ import annotations

from typing import Any

from engine.forms import FIELD_TYPES


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def openapi_document() -> dict[str, Any]:
    task_id = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}}
    auth = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "MoSD case management API", "version": "1.0.0",
                 "description": "Staff API: the same rules as the web pages. A user sees only tasks of their "
                                "role and cases of their directorate; anything else is 404."},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"},
                                                            "errors": {"type": "object"}}},
                "Task": {"type": "object", "properties": {
                    "id": {"type": "string"}, "case_id": {"type": "integer"}, "title": {"type": "string"},
                    "form_key": {"type": "string"}, "lane": {"type": "string"},
                    "stage": {"type": ["string", "null"]}, "assignee": {"type": ["integer", "null"]},
                    "due_at": {"type": ["string", "null"], "format": "date-time"}, "state": {"type": "string"}}},
                "Field": {"type": "object", "properties": {
                    "name": {"type": "string"}, "label": {"type": "string"},
                    "type": {"type": "string", "enum": list(FIELD_TYPES)}, "required": {"type": "boolean"},
                    "choices": {"type": ["array", "null"]}, "value": {},
                    "fields": {"type": "array", "items": {"$ref": "#/components/schemas/Field"}}}},
            },
        },
        "paths": {
            "/auth/token": {"post": {
                "summary": "Exchange username and password for a bearer token",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["username", "password"],
                    "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}}}},
                "responses": {"200": {"description": "token"}, "401": _error("wrong credentials"),
                              "429": _error("locked after repeated failures")}}},
            "/auth/logout": {"post": {
                "summary": "End the bearer token now", "security": auth,
                "responses": {"200": {"description": "token revoked"}, "401": _error("no token")}}},
            "/tasks": {"get": {
                "summary": "The caller's inbox: tasks assigned to them and open tasks of their role",
                "security": auth, "responses": {"200": {"description": "tasks", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {"tasks": {
                        "type": "array", "items": {"$ref": "#/components/schemas/Task"}}}}}}},
                    "401": _error("no token")}}},
            "/tasks/{task_id}": {"get": {
                "summary": "A task with its form's fields and current values", "parameters": [task_id],
                "security": auth,
                "responses": {"200": {"description": "task and fields"}, "404": _error("not yours")}}},
            "/tasks/{task_id}/claim": {"post": {
                "summary": "Claim an open task of your role", "parameters": [task_id], "security": auth,
                "responses": {"200": {"description": "claimed"}, "404": _error("not yours"),
                              "409": _error("claimed by someone else or already completed")}}},
            "/tasks/{task_id}/release": {"post": {
                "summary": "Give a claimed task back to the role's open tasks", "parameters": [task_id],
                "security": auth, "responses": {"200": {"description": "released"}, "409": _error("not yours")}}},
            "/tasks/{task_id}/complete": {"post": {
                "summary": "Submit the task's form", "parameters": [task_id], "security": auth,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["data"],
                    "properties": {"data": {"type": "object"},
                                   "version": {"type": "integer", "description": "the version from GET; a "
                                               "stale one is refused with 409"}}}}}},
                "responses": {"200": {"description": "the case's next tasks"}, "404": _error("not yours"),
                              "409": _error("already completed or stale"),
                              "422": _error("errors per field")}}},
            "/cases": {"post": {
                "summary": "Reception opens a registration; its form is then the caller's first task",
                "security": auth, "requestBody": {"content": {"application/json": {"schema": {
                    "type": "object", "properties": {"national_id": {"type": "string"},
                                                     "consent_data_exchange": {"type": "boolean"}}}}}},
                "responses": {"201": {"description": "case opened"}, "403": _error("not reception"),
                              "422": _error("invalid national ID")}}},
            "/cases/{case_id}": {"get": {
                "summary": "Stage, status, household, eligibility with indicators, history",
                "parameters": [{"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "security": auth, "responses": {"200": {"description": "case"}, "404": _error("not yours")}}},
        },
    }
