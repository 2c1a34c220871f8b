"""Where the ``samovar`` commands print: one stdout console and one way to fail."""

from __future__ import annotations

import re
from typing import Any, Callable, Optional

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape

# Rich lays tables out for 80 columns when stdout is not a terminal, which cuts names in
# pipes, files and captured output; there we allow this many columns instead.
PIPED_WIDTH = 200


class _StdoutConsole(Console):
    """A rich Console that is at least PIPED_WIDTH wide when its output is not a terminal."""

    @property
    def size(self) -> ConsoleDimensions:
        dims = super().size
        if self.is_terminal:
            return dims
        return ConsoleDimensions(max(dims.width, PIPED_WIDTH), dims.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)


console = _StdoutConsole()


# The errors `samovar train` reports with `fail` (exit 2): bad options, data or files, and a run that
# diverged (FloatingPointError: lower the learning rate). Other exceptions are failures of the code.
INPUT_ERRORS = (ValueError, FileNotFoundError, FileExistsError, KeyError, FloatingPointError)


def typed_options() -> dict[str, str]:
    """{parameter name: option} of the options the user typed on the running command's line (e.g.
    {"lr": "--lr", "batch_size": "--batch-size"}); empty outside a command."""
    try:
        from typer._click.globals import get_current_context  # typer >= 0.20 runs its own copy of click
    except ImportError:
        from click import get_current_context
    ctx = get_current_context(silent=True)
    if ctx is None:
        return {}
    typed = ("COMMANDLINE", "ENVIRONMENT")  # ParameterSource members: not a default, not a callback's default map
    return {param.name: max(param.opts, key=len) for param in ctx.command.params
            if param.param_type_name == "option" and param.name
            and getattr(ctx.get_parameter_source(param.name), "name", None) in typed}


# a config field in a message: TrainConfig.lr, TaskTrainConfig.steps
_CONFIG_FIELD = re.compile(r"\b[A-Z]\w*Config\.(\w+)")
# a message that opens with a keyword argument: "lr must be ...", "fill='x' is not an option"
_LEADING_KEYWORD = re.compile(r"(\w+)(=| must\b)")


def option_message(message: str, options: dict[str, str]) -> str:
    """`message` naming the command-line options in `options` ({parameter name: option}) where it names their
    config field or keyword argument: "TrainConfig.lr must be a positive number" -> "--lr must be a positive
    number", "fill='x' is not an option" -> "--fill 'x' is not an option". Other names are kept: the Python
    API's messages name its fields and keywords, the command line's the options the user typed."""
    message = _CONFIG_FIELD.sub(lambda m: options.get(m.group(1), m.group(0)), message)
    lead = _LEADING_KEYWORD.match(message)
    if lead and lead.group(1) in options:
        joint = " " if lead.group(2) == "=" else lead.group(2)
        message = options[lead.group(1)] + joint + message[lead.end():]
    return message


def fail(message: str, code: int = 2) -> None:
    """Print an error in red on stderr, on one line however long, and exit with status `code` (no traceback):
    2, the default, for bad input (INPUT_ERRORS); 1 for a run that failed otherwise. Where the message names a
    config field or keyword argument of an option the user typed, it names the option (`option_message`)."""
    message = option_message(message, typed_options())
    # the message as text, not markup: it may quote a library's error with square brackets ([rank1]:, [/path:553])
    Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)


def warning_lines() -> Callable[..., None]:
    """A `warnings.showwarning` for one command: each distinct warning once, as one yellow ``warning:`` line on
    stderr (as `fail` prints errors), instead of Python's two lines (samovar's file and line, then that source
    line), repeated when a refit reads the data a second time."""
    shown: set[str] = set()

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
             line: str | None = None) -> None:
        kind = "" if category is UserWarning else f" ({category.__name__})"
        text = f"warning{kind}: {message}"
        if text not in shown:
            shown.add(text)
            Console(stderr=True).print(f"[yellow]warning{kind}:[/] {escape(str(message))}", highlight=False,
                                       soft_wrap=True)

    return show


# ---------------------------------------------------------------- option values shared by the commands

def parse_numbers(text: str, count: int | None, what: str) -> tuple[float, ...]:
    """Parse `count` numbers (None: one or more) separated by commas, spaces or slashes; else fail with `what`."""
    parts = [p for p in text.replace(",", " ").replace("/", " ").split() if p]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if not values or (count is not None and len(values) != count):
        fail(f"{text!r}: {what}")
    return values


SET_HELP = "Model hyper-parameter key=value (repeatable; over the recipe's)."
SEP_HELP = ("Column separator of your CSV/TXT files: one character, e.g. ';' (quote it in a shell), '\\t' or tab "
            "(default: ',').")
DECIMAL_HELP = ("Decimal mark of the numbers in your CSV/TXT files, e.g. ',' for 1,5, with a --sep other than ',' "
                "(';' or tab, a one-column file too) (default: '.').")
DATE_FORMAT_HELP = "strftime format of the text dates, e.g. '%d/%m/%Y' (default: inferred; day-first dates need it or --dayfirst)."
DAYFIRST_HELP = "Read text dates like 01/02/2023 day first (1 February)."
LOSS_HELP = "mse (the model's own loss) | quantile (plus the pinball loss of a quantile head)."
QUANTILES_HELP = "Quantile levels with --loss quantile, e.g. 0.1,0.5,0.9 (the default)."


def parse_quantiles(text: Optional[str]) -> tuple[float, ...] | None:
    if text is None:
        return None
    return parse_numbers(text, None, "--quantiles needs numbers in (0, 1), e.g. --quantiles 0.1,0.5,0.9")


def parse_split(text: Optional[str]) -> tuple[float, float, float] | None:
    if text is None:
        return None
    return parse_numbers(text, 3, "--split needs three shares train,val,test, e.g. --split 0.7,0.1,0.2")  # type: ignore[return-value]


# ---------------------------------------------------------------- the role of each column (docs/covariates.md)

TARGET_HELP = ("Column to forecast (repeatable or a comma list; default: every column). The other columns are read "
               "as past-only covariates (see --past); the loss and every score count the targets only.")
PAST_HELP = ("Past-only covariate column, read in the lookback only (repeatable or a comma list; default: every column "
             "that is not a target or --future; 'none': no other column, so one --target is TSLib's S setting).")
FUTURE_HELP = ("Future-known covariate column, whose values over the horizon are given when forecasting "
               "(`samovar forecast --future FILE`); repeatable or a comma list.")
CALENDAR_HELP = "Add calendar features of the dates (hour of day, day of week, ... chosen by the frequency) as future-known covariates."


def parse_inputs(target: Optional[list[str]], past: Optional[list[str]], future: Optional[list[str]],
                 calendar: bool) -> dict[str, Any]:
    """The target / past / future / calendar keywords of ``prepare_data`` from the command line."""
    def names(items: Optional[list[str]]) -> list[str] | None:
        if not items:
            return None
        return [n.strip() for item in items for n in item.split(",") if n.strip()]

    past_names = names(past)
    if past_names is not None and [n.lower() for n in past_names] == ["none"]:
        past_names = []
    return {"target": names(target), "past": past_names, "future": names(future), "calendar": calendar}
