"""Register the texts editors write for readers with django-modeltranslation (kk, ru, en)."""

from modeltranslation.translator import TranslationOptions, translator

from .models import Actor, Agreement, Event, Metric, Place, Topic, Track
from .models.translations import Translated


def _options(model: type[Translated], **extra: object) -> type[TranslationOptions]:
    return type(
        f"{model.__name__}TranslationOptions",
        (TranslationOptions,),
        {"fields": model.translated_fields, **extra},
    )


for _model in (Event, Place, Actor, Track, Metric, Agreement):
    translator.register(_model, _options(_model))
# A missing name is NULL, not "", so that two topics without a Kazakh name don't collide.
translator.register(Topic, _options(Topic, empty_values={"name": None}))
