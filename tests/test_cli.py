"""Tests of the `bytesim` command as a whole: every command has help."""

from click.testing import CliRunner

from cli.main import cli


def test_top_level_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in cli.commands:
        assert name in result.output


def test_every_command_has_help_text():
    runner = CliRunner()
    for name, command in cli.commands.items():
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert command.help, f"{name} has no help text"


def test_every_one_line_summary_is_a_whole_sentence():
    # `bytesim --help` shows each command's first sentence; a ". " inside a list ("a, b, ... c")
    # once cut gen-tune-types' summary mid-list.
    for name, command in cli.commands.items():
        summary = command.get_short_help_str(limit=1000)
        assert summary and not summary.endswith((",", ":", ";", "(")), (name, summary)
        assert summary.count("(") == summary.count(")"), (name, summary)
