using AnalyticsEngine.Silo;

var app = SiloApp.Build(args);
await SiloApp.StartAsync(app);
await app.WaitForShutdownAsync();
