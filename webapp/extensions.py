"""The app's extensions, created unbound so that importing builds nothing."""

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base shared by the models and Alembic's autogenerate."""


db = SQLAlchemy(model_class=Base)
