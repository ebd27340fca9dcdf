using Xunit.Abstractions;

namespace AnalyticsEngine.Grains.Tests.Faults;

/// <summary>
/// The fault scenarios' log: each line goes to the test's own output and, when <c>AE_FAULT_LOG</c> names a file,
/// is appended there with the UTC time. xUnit only shows a test's output once the test
/// ends, so a scenario that stalls until the runner kills the host would otherwise leave no trace; scripts/test.sh
/// prints the file's tail when a project fails.
/// </summary>
public sealed class FaultLog(ITestOutputHelper output, string scenario) : ITestOutputHelper
{
    private static readonly string? FilePath = Environment.GetEnvironmentVariable("AE_FAULT_LOG");
    private static readonly Lock FileLock = new();

    public void WriteLine(string message)
    {
        output.WriteLine(message);
        if (FilePath is null)
        {
            return;
        }

        var line = $"{DateTime.UtcNow:HH:mm:ss.f} {scenario}: {message}{Environment.NewLine}";
        lock (FileLock)
        {
            File.AppendAllText(FilePath, line);
        }
    }

    public void WriteLine(string format, params object[] args) => WriteLine(string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args));
}
