"""Extension point for custom train steps that a recipe asks for (NFNet's AGC).

A recipe with `agc_clipping` needs adaptive gradient clipping inside the train step,
which the NFNet work provides. The trainer does not import it: the module that
implements it registers a wrapper here,

    from keras_minimal.training.train_steps import register_train_step

    def with_agc(model, recipe):
        # return the model to compile, e.g. one whose train_step clips unit-wise
        ...

    register_train_step("agc", with_agc)

and `Trainer` calls `with_agc(model, recipe)` before compiling whenever
`recipe.agc_clipping` is set. A Trainer(train_step_wrapper=...) argument overrides the
registry for one run.
"""

_WRAPPERS = {}
# Recipe field → registered wrapper name.
RECIPE_FIELDS = {"agc_clipping": "agc"}


def register_train_step(name, wrapper):
    """Register `wrapper(model, recipe) -> model` under `name` (e.g. "agc")."""
    if not callable(wrapper):
        raise TypeError(f"wrapper must be callable. Received: {wrapper!r}")
    _WRAPPERS[name] = wrapper
    return wrapper


def registered_train_steps():
    return sorted(_WRAPPERS)


def wrapper_for(recipe):
    """The registered wrapper the recipe needs, None if it needs none, or one clear error."""
    for field_name, name in RECIPE_FIELDS.items():
        if getattr(recipe, field_name, None) is None:
            continue
        if name not in _WRAPPERS:
            raise ValueError(
                f"The recipe for {recipe.model!r} sets {field_name}="
                f"{getattr(recipe, field_name)!r}, which needs the {name!r} train step, but "
                f"none is registered (registered: {registered_train_steps()}). Import the "
                f"module that provides it (keras_minimal.training.train_steps."
                f"register_train_step({name!r}, ...)) or pass train_step_wrapper=."
            )
        return _WRAPPERS[name]
    return None
