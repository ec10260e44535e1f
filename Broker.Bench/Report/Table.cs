using System.Text;

namespace Broker.Bench.Report;

/// <summary>A plain-text table (Markdown pipe syntax, so it pastes into docs/benchmarks.md as is).</summary>
public sealed class Table(string title, params string[] headers)
{
    private readonly List<string[]> _rows = new();

    public string Title { get; } = title;

    public void Add(params string[] cells) => _rows.Add(cells);

    public override string ToString()
    {
        var widths = headers.Select(h => h.Length).ToArray();
        foreach (var row in _rows)
            for (var i = 0; i < row.Length && i < widths.Length; i++) widths[i] = Math.Max(widths[i], row[i].Length);
        var text = new StringBuilder();
        text.AppendLine($"### {Title}").AppendLine();
        Line(text, headers, widths);
        text.Append('|');
        foreach (var w in widths) text.Append(new string('-', w + 2)).Append('|');
        text.AppendLine();
        foreach (var row in _rows) Line(text, row, widths);
        return text.ToString();
    }

    private static void Line(StringBuilder text, string[] cells, int[] widths)
    {
        text.Append('|');
        for (var i = 0; i < widths.Length; i++)
        {
            var cell = i < cells.Length ? cells[i] : "";
            text.Append(' ').Append(i == 0 ? cell.PadRight(widths[i]) : cell.PadLeft(widths[i])).Append(" |");
        }
        text.AppendLine();
    }
}
