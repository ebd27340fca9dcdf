namespace AnalyticsEngine.Silo;

/// <summary>The silo process: applies the schema, joins the cluster, serves health and metrics.</summary>
public static class SiloProgram
{
    public static async Task Main(string[] args)
    {
        var app = SiloApp.Build(args);
        await SiloApp.StartAsync(app);
        await app.WaitForShutdownAsync();
    }
}
