"""generate: one AI video through the providers' router (the operation behind /api/v1/generations)."""

from typing import Annotated

from pydantic import Field, model_validator

from jobs.operations.base import FieldError, Operation, Outcome, Params
from providers.adapters import ADAPTERS, get_adapter
from providers.catalog import request_errors

Provider = Annotated[str, Field(min_length=1, max_length=16)]


class GenerationParams(Params):
    provider: Provider
    model: str | None = Field(None, max_length=64, description="The provider's default model when left out.")
    prompt: str = Field(min_length=1, max_length=4000)
    negative_prompt: str = Field("", max_length=2000)
    duration: int | None = Field(None, ge=1, le=60, description="Seconds; the model's default when left out.")
    aspect_ratio: str | None = Field(None, pattern=r"^\d{1,2}:\d{1,2}$")
    resolution: str | None = Field(None, max_length=8)
    image: str | None = Field(None, description="An image asset to start from (image-to-video).")
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    fallback: list[Provider] = Field(default_factory=list, max_length=5)

    @model_validator(mode="after")
    def fits_the_model(self):
        if self.provider not in ADAPTERS:
            raise FieldError("provider", f"Unknown provider; choose one of {', '.join(ADAPTERS)}.")
        adapter = get_adapter(self.provider)
        self.model = self.model or adapter.default_model
        if self.model not in adapter.models:
            raise FieldError("model", f"{self.provider} has the models {', '.join(adapter.models)}.")
        for index, name in enumerate(self.fallback):
            if name not in ADAPTERS or name == self.provider or name in self.fallback[:index]:
                raise FieldError(f"fallback.{index}", "Name another provider, once.")
        errors = request_errors(
            adapter.models[self.model],
            duration=self.duration,
            aspect_ratio=self.aspect_ratio,
            resolution=self.resolution,
            has_image=bool(self.image),
        )
        for field, messages in errors.items():
            raise FieldError(field, messages[0])
        return self


class Generate(Operation):
    name = "generate"
    description = "Generate a video with an AI provider, with fallback to others; submitted via /generations."
    params_model = GenerationParams
    min_inputs = max_inputs = 0
    asset_params = {"image": ("image",)}
    submit_via = "/api/v1/generations"
    output_source = "generation"

    def run(self, ctx, params: GenerationParams) -> Outcome:
        from providers.router import generation_run

        return generation_run(ctx, params)
