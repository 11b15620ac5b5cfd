"""The stored documents' shapes, as pydantic models of the fields Firestore holds.

``tools/rules.py`` turns each into the rules' key, type and size checks, so that
a client writing Firestore directly is held to the same shape the API validates.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from core.field_types import Description, DocumentId, Name, TaskNotes, TaskTitle, Uid
from core.fields import MAX_MEMBERS


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    createdAt: datetime  # noqa: N815 - stored field names are the wire names
    updatedAt: datetime  # noqa: N815
    version: int


class ProjectDocument(Document):
    name: Name
    description: Description
    ownerId: Uid  # noqa: N815
    editors: list[Uid] = Field(max_length=MAX_MEMBERS)
    viewers: list[Uid] = Field(max_length=MAX_MEMBERS)
    #: owner + editors + viewers: one array-contains query lists what a user may read.
    members: list[Uid] = Field(max_length=101)


class TaskDocument(Document):
    projectId: DocumentId  # noqa: N815
    title: TaskTitle
    notes: TaskNotes
    done: bool
    assigneeId: Uid | None  # noqa: N815
    createdBy: Uid  # noqa: N815
