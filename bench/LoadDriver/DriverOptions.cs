namespace AnalyticsEngine.LoadDriver;

/// <summary>Command-line settings of the load driver.</summary>
public sealed record DriverOptions(Uri Gateway, string? Token, int Posts, int Batches, int BatchSize)
{
    public static DriverOptions Parse(string[] args)
    {
        string? Value(string name)
        {
            var index = Array.IndexOf(args, name);
            return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
        }

        return new DriverOptions(
            new Uri(Value("--gateway") ?? "http://127.0.0.1:5080/"),
            Value("--token") ?? Environment.GetEnvironmentVariable("AE_TOKEN"),
            int.Parse(Value("--posts") ?? "1000", System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(Value("--batches") ?? "100", System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(Value("--batch-size") ?? "1000", System.Globalization.CultureInfo.InvariantCulture));
    }
}
