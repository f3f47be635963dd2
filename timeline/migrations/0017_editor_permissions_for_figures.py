"""Let the Editors and Publishers groups work on figures, metrics and agreements as on events."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

NEW_RECORD_MODELS = ("metric", "figure", "agreement", "agreementstep")


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, actions in (
        ("Editors", ("add", "change", "view")),
        ("Publishers", ("add", "change", "view", "delete")),
    ):
        codenames = [f"{action}_{model}" for model in NEW_RECORD_MODELS for action in actions]
        found = Permission.objects.filter(
            content_type__app_label="timeline", codename__in=codenames
        )
        if found.count() != len(codenames):
            raise RuntimeError(f"Missing permissions among {codenames}")
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.add(*found)


class Migration(migrations.Migration):
    dependencies = [("timeline", "0016_figures_agreements_parts")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
