"""Queries on user accounts and their roles."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from imaging_ai.persistence.models import User, UserRole
from imaging_ai.vocabulary import Role


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, user_id: uuid.UUID) -> User | None:
        return self.session.get(User, user_id)

    def by_username(self, username: str) -> User | None:
        return self.session.scalars(select(User).where(User.username == username)).first()

    def add(self, user: User) -> User:
        self.session.add(user)
        self.session.flush()
        return user

    def page(self, *, kind: str | None, limit: int, offset: int) -> Sequence[User]:
        query = select(User).order_by(User.username).limit(limit).offset(offset)
        if kind is not None:
            query = query.where(User.kind == kind)
        return self.session.scalars(query).all()

    def count_active_admins(self) -> int:
        query = (
            select(func.count())
            .select_from(User)
            .join(UserRole)
            .where(UserRole.role == Role.admin, User.is_active.is_(True))
        )
        return int(self.session.scalar(query) or 0)

    def set_roles(self, user: User, roles: Sequence[str]) -> None:
        wanted = set(roles)
        for grant in list(user.roles):
            if grant.role not in wanted:
                user.roles.remove(grant)
        held = set(user.role_names)
        for role in sorted(wanted - held):
            user.roles.append(UserRole(role=role))
        self.session.flush()
