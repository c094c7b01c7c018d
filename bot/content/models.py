"""Programs as stored: one row per program, one per distinct version of its file.

The current version (the one loaded most recently, see
`bot.content.service.current_version`) is the one new enrollments get; people
already enrolled keep the version they started unless the steps still line up
(docs/authoring.md, "Version")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, utcnow


class Program(Base):
    __tablename__ = "programs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    owner: Mapped[str] = mapped_column(String(320))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ProgramVersion(Base):
    __tablename__ = "program_versions"
    __table_args__ = (UniqueConstraint("program_id", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[str] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    number: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    # The validated program as plain data, so an old version renders after its file changed.
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    # When this content was last loaded: a file reverted to an earlier content makes
    # that version current again (the hash is unique per program, so no new row).
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
