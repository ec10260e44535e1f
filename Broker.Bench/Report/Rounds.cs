namespace Broker.Bench.Report;

/// <summary>What the scenarios measured in rounds (<c>--rounds N</c>) report: the median of each round's own ratio.</summary>
public static class Rounds
{
    /// <summary>The median of the values there are (nulls, rounds without a ratio, left out); null when none.</summary>
    public static double? Median(IEnumerable<double?> values)
    {
        var sorted = values.OfType<double>().Order().ToArray();
        if (sorted.Length == 0) return null;
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
