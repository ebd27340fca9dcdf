using AnalyticsEngine.PipelineBench;

// Ingest pipeline benchmark (issue #4): sustained events/s from commit until every client grain has applied
// every committed event, against raw binary COPY of the same rows into the same table in the same run, and
// commit-to-grain latency at half the sustained rate. Hosts a silo in-process (the production host and
// providers: ADO.NET storage and the schema in PostgreSQL, memory streams, Redis membership) on ports of its
// own, against a database of its own.
//
//   dotnet run -c Release --project bench/PipelineBench -- [--clients 1000] [--kpis 20] [--batch-size 100]
//       [--concurrency 32] [--seconds 60] [--database analytics_bench] [--format json|csv] [--watch 20] [--keep]
//       [--max-pool-size 48] [--silo-setting Section:Key=value ...]
//   ... -- --query-calls 2000     only what asking the archive costs a query through the query grain (no pipeline)
//
// --keep skips emptying the benchmark database first. Connection settings come from ConnectionStrings__Postgres
// (its database name is replaced by --database) and ConnectionStrings__Redis, as for the silo.
var options = BenchOptions.Parse(args);
await new PipelineRun(options, args).RunAsync();
