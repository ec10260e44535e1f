namespace Broker.Bench.Report;

/// <summary>One target of issue #9 checked against a measurement.</summary>
public sealed record TargetCheck(string Target, string Measured, bool Pass);

/// <summary>What a scenario hands back: its tables, the targets it checked, and correctness failures (non-zero exit).</summary>
public sealed class ScenarioReport(string name)
{
    public string Name { get; } = name;
    public List<Table> Tables { get; } = new();
    public List<TargetCheck> Targets { get; } = new();
    public List<string> Failures { get; } = new();
    public List<string> Notes { get; } = new();

    public void Check(string target, string measured, bool pass) => Targets.Add(new TargetCheck(target, measured, pass));
}

/// <summary>Number formatting shared by the scenarios.</summary>
public static class Fmt
{
    public static string Ms(double micros) => (micros / 1000.0).ToString("0.00");
    public static string Rate(double perSecond) => perSecond >= 1e6 ? $"{perSecond / 1e6:0.00}M" : perSecond >= 1e3 ? $"{perSecond / 1e3:0.0}k" : $"{perSecond:0}";
    public static string Ratio(double value, double reference) => reference > 0 ? $"{value / reference:0.00}×" : "n/a";
    public static string KiB(double bytes) => $"{bytes / 1024.0:0.0}";
    public static string Pass(bool pass) => pass ? "PASS" : "FAIL";
}
