from django import forms

from .errors import ApplicationError


class ServiceForm(forms.Form):
    """A form whose data goes to a service: the service's field errors land on
    the form's fields, so the page re-renders with them."""

    #: Service field names that differ from the form's (e.g. "image_id" -> "image").
    service_fields: dict[str, str] = {}

    def add_service_error(self, error: ApplicationError) -> None:
        if not error.fields:
            self.add_error(None, error.message)
        for name, messages in error.fields.items():
            name = self.service_fields.get(name, name)
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
