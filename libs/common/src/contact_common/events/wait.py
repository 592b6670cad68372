"""A wait's end (a call answered or abandoned, a visitor seen) comes after it began."""

from typing import ClassVar, Self

from pydantic import model_validator

from contact_common.events.envelope import EventData


class WaitEndedData(EventData):
    """Base of the data of a wait's end: its instant (`time_field`) is not before the wait began."""

    wait_began_field: ClassVar[str]
    """The data field holding when the wait began: the call offered, the visitor arrived."""

    @model_validator(mode="after")
    def _ended_after_it_began(self) -> Self:
        if self.occurred_at < getattr(self, self.wait_began_field):
            raise ValueError(f"{self.time_field} is before {self.wait_began_field}")
        return self
