using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Proposals;

namespace AnalyticsEngine.Kpi.Tests.Proposals;

public sealed class ProposalCalculatorTests
{
    private static readonly DateOnly Today = new(2026, 11, 29);

    /// <summary>
    /// The specification's worked example: SCOR and CRM on a three-year license, three fixed-price sources and a legacy
    /// API, KPIs out of the box, with RBAC and with hierarchical access, an AWS setup of 60 hours, 2 + 6 + 6 instances,
    /// 500 GB active and 2,000 GB archived, 1,000 GB of transfer, and the retainer with 50 more hours.
    /// </summary>
    public static ProposalRequest WorkedExample() => new(
        LicenseTermYears: 3,
        Infrastructure: new InfrastructureAnswers(DailyIngestGb: 5, ConcurrentUsers: 200, RefreshPeriod.Minute, MonthlyDataTransferGb: 1000),
        ClientName: "Acme Logistics",
        KpiCodes: ["POF", "OTD", "CRM_ACTIVE_ACCOUNTS", "CRM_NET_NEW_MRR"],
        DataSources:
        [
            new("accounts", IntegrationMethod.StreamingApiArchitected, "Salesforce CRM"),
            new("orders", IntegrationMethod.BatchNonConformedSingleSource, "SAP ERP"),
            new("shipments", IntegrationMethod.BatchConformed, "Internal DB"),
            new("subscription_changes", IntegrationMethod.StreamingApiNonArchitected, "Billing API"),
        ],
        Kpis: [new("OTD", KpiComplexity.Rbac), new("CRM_NET_NEW_MRR", KpiComplexity.DynamicRbac)],
        Environment: new EnvironmentAnswer(HostingPlatform.Aws, 60),
        Retention: new RetentionAnswers(StagedSourceData: new RetentionAnswer(100, RetentionUnit.Days, true, 400, RetentionUnit.Days)),
        ManagedServices: new ManagedServicesAnswer(Retainer: true, AdditionalHours: 50),
        Date: Today);

    private static ServiceProposal Priced(ProposalRequest request, ClientConfig? client = null)
    {
        var outcome = ProposalCalculator.Calculate(request, client, Today);
        Assert.Empty(outcome.Problems);
        return outcome.Proposal!;
    }

    private static IReadOnlyList<string> Problems(ProposalRequest request, ClientConfig? client = null)
    {
        var outcome = ProposalCalculator.Calculate(request, client, Today);
        Assert.Null(outcome.Proposal);
        return outcome.Problems;
    }

    [Fact]
    public void The_worked_example_licenses_two_value_chains_for_three_years_at_its_figures()
    {
        var licensing = Priced(WorkedExample()).Licensing;

        Assert.Equal(["SCOR", "CRM"], licensing.ValueChains.Select(c => c.Code));
        Assert.Equal(["POF", "OTD"], licensing.ValueChains[0].Kpis);
        Assert.Equal(32_500m, licensing.AnnualCostPerChain);
        Assert.Equal(7m, licensing.DiscountPercent);
        Assert.Equal(65_000m, licensing.AnnualTotal);
        Assert.Equal(195_000m, licensing.TermTotal);
    }

    [Fact]
    public void The_worked_example_prices_its_statement_of_work()
    {
        var work = Priced(WorkedExample()).Implementation;

        Assert.Equal([2_500m, 2_500m, 1_500m, null], work.DataIntegration.Select(l => l.Cost));
        Assert.Equal(["CRM_ACTIVE_ACCOUNTS"], work.DataIntegration[0].Kpis);
        Assert.Empty(work.DataIntegration[2].Kpis);
        Assert.Equal(6_500m, work.DataIntegrationTotal);
        Assert.Equal([50m, 100m, 50m, null], work.KpiImplementation.Select(l => l.Cost));
        Assert.Equal(200m, work.KpiImplementationTotal);
        Assert.Equal(new EnvironmentSetup(HostingPlatform.Aws, 60m, 175m, 10_500m), work.Environment);
        Assert.Equal([new MoneyRange(7_000m, 10_500m), new MoneyRange(3_500m, 5_250m)], work.TimeAndMaterials.Select(t => t.Cost));
        Assert.Equal([new HoursEstimate(40m, 60m), new HoursEstimate(20m, 30m)], work.TimeAndMaterials.Select(t => t.Hours));
        Assert.Equal(new MoneyRange(10_500m, 15_750m), work.TimeAndMaterialsTotal);
        Assert.Equal(17_200m, work.FixedCostTotal);
        Assert.Equal(new MoneyRange(27_700m, 32_950m), work.Total);
    }

    [Fact]
    public void The_worked_example_estimates_its_infrastructure_at_22_320_a_year()
    {
        var infrastructure = Priced(WorkedExample()).Infrastructure;

        Assert.Equal([(2, 100m), (6, 600m), (6, 900m)], infrastructure.Compute.Select(c => (c.Count, c.Monthly)));
        Assert.Equal(1_600m, infrastructure.ComputeMonthly);
        Assert.Equal(new VolumeLine(500m, 0.10m, 50m), infrastructure.Storage.ActiveDatabase);
        Assert.Equal(new VolumeLine(2_000m, 0.01m, 20m), infrastructure.Storage.ArchivedData);
        Assert.Equal(170m, infrastructure.Storage.Monthly);
        Assert.Equal(new VolumeLine(1_000m, 0.09m, 90m), infrastructure.Network);
        Assert.Equal(1_860m, infrastructure.Monthly);
        Assert.Equal(22_320m, infrastructure.Annual);
    }

    [Fact]
    public void The_worked_example_totals_96_070_a_year_after_the_first()
    {
        var proposal = Priced(WorkedExample());

        Assert.Equal(8_750m, proposal.ManagedServices.AnnualTotal);
        Assert.Equal(3_750m, proposal.ManagedServices.AdditionalCost);
        Assert.Equal(96_070m, proposal.Totals.YearlyRecurring);
        Assert.Equal(new MoneyRange(123_770m, 129_020m), proposal.Totals.Year1);
        Assert.Equal(new MoneyRange(315_910m, 321_160m), proposal.Totals.TermTotal);
        Assert.Equal(new DateOnly(2026, 12, 29), proposal.ValidUntil);
        Assert.Equal("Acme Logistics", proposal.ClientName);
    }

    [Fact]
    public void The_worked_example_follows_the_specifications_timeline()
    {
        var proposal = Priced(WorkedExample());

        Assert.Equal(
            [("Environment setup", 1, 2), ("Data integration", 2, 6), ("KPI implementation", 4, 8), ("Testing and UAT", 7, 9), ("Go-live", 10, 10)],
            proposal.Timeline.Select(p => (p.Phase, p.FromWeek, p.ToWeek)));
        Assert.Equal(
            [("Integration developer/analyst", (int?)1, (int?)10), ("Integration architect", null, null), ("Access specialist", 1, 1), ("Cloud architect", 1, 2)],
            proposal.Resources.Select(r => (r.Role, r.FromWeek, r.ToWeek)));
    }

    [Fact]
    public void Without_a_platform_to_set_up_integration_starts_in_week_one_and_no_cloud_architect_is_scheduled()
    {
        var proposal = Priced(WorkedExample() with { Environment = null });

        Assert.Equal(0m, proposal.Implementation.Environment.Cost);
        Assert.Equal(17_200m - 10_500m, proposal.Implementation.FixedCostTotal);
        Assert.Equal(("Data integration", 1, 5), (proposal.Timeline[0].Phase, proposal.Timeline[0].FromWeek, proposal.Timeline[0].ToWeek));
        Assert.DoesNotContain(proposal.Resources, r => r.Role == "Cloud architect");
    }

    [Fact]
    public void Phases_last_longer_than_five_weeks_when_their_fixed_price_hours_need_it()
    {
        // Twelve object models by entity resolution: 360 developer hours, 18 weeks at 20 hours a week.
        var models = BuiltInCatalog.ObjectModels.Take(12).ToList();
        var proposal = Priced(WorkedExample() with
        {
            KpiCodes = ["POF"],
            Kpis = null,
            DataSources = [.. models.Select(m => new DataSourceAnswer(m.Code, IntegrationMethod.BatchEntityResolution))],
        });

        var integration = proposal.Timeline.Single(p => p.Phase == "Data integration");
        var kpis = proposal.Timeline.Single(p => p.Phase == "KPI implementation");
        Assert.Equal((2, 19), (integration.FromWeek, integration.ToWeek));
        Assert.Equal((4, 21), (kpis.FromWeek, kpis.ToWeek));
        Assert.Equal(23, proposal.Timeline[^1].FromWeek);
        Assert.DoesNotContain(proposal.Resources, r => r.Role == "Integration architect");
    }

    [Theory]
    [InlineData(1, 35_000, 0)]
    [InlineData(3, 32_500, 7)]
    [InlineData(5, 30_000, 14)]
    public void Longer_terms_cost_less_a_year(int years, int annualPerChain, int discount)
    {
        var proposal = Priced(WorkedExample() with { LicenseTermYears = years });

        Assert.Equal(annualPerChain, proposal.Licensing.AnnualCostPerChain);
        Assert.Equal(discount, proposal.Licensing.DiscountPercent);
        Assert.Equal(2m * annualPerChain * years, proposal.Licensing.TermTotal);
        Assert.Equal(proposal.Totals.Year1 + (years - 1) * proposal.Totals.YearlyRecurring, proposal.Totals.TermTotal);
    }

    [Fact]
    public void Value_chains_asked_for_are_licensed_with_those_the_kpis_need()
    {
        var licensing = Priced(WorkedExample() with { ValueChains = ["sales", "CRM"] }).Licensing;

        Assert.Equal(["SCOR", "CRM", "SALES"], licensing.ValueChains.Select(c => c.Code));
        Assert.Empty(licensing.ValueChains[2].Kpis);
        Assert.Equal(3 * 32_500m, licensing.AnnualTotal);
    }

    [Fact]
    public void A_clients_proposal_covers_its_selected_kpis_and_licenses_a_custom_kpi_under_the_chains_of_what_it_reads()
    {
        var custom = new KpiDefinition("BILLABLE_ORDERS", "Billable orders per hour", "", "count(orders) / sum(time_logs.hours)", "count",
            KpiDirection.HigherIsBetter, [], "custom", "custom");
        var client = new ClientConfig("acme", "Acme", "Europe/Berlin", ["POF", "BILLABLE_ORDERS"], [custom], [], 3);

        var proposal = Priced(
            WorkedExample() with
            {
                ClientName = null,
                KpiCodes = null,
                Kpis = null,
                DataSources = [new("orders", IntegrationMethod.BatchConformed), new("time_logs", IntegrationMethod.BatchConformed)],
            },
            client);

        Assert.Equal("Acme", proposal.ClientName);
        Assert.Equal("acme", proposal.ClientId);
        Assert.Equal(["SCOR", "MSP"], proposal.Licensing.ValueChains.Select(c => c.Code));
        Assert.Equal(["POF", "BILLABLE_ORDERS"], proposal.Licensing.ValueChains[0].Kpis);
        Assert.Equal(
            [("POF", KpiComplexity.Otb, false), ("BILLABLE_ORDERS", KpiComplexity.CustomBasic, true)],
            proposal.Implementation.KpiImplementation.Select(k => (k.KpiCode, k.Complexity, k.Custom)));
    }

    [Fact]
    public void Sox_archives_data_until_seven_years_are_kept_and_says_so()
    {
        var proposal = Priced(WorkedExample() with
        {
            Retention = new RetentionAnswers(
                StagedSourceData: new RetentionAnswer(90, RetentionUnit.Days, false),
                AnalyticsData: new RetentionAnswer(2, RetentionUnit.Years, true, 10, RetentionUnit.Years),
                Compliance: [ComplianceRegime.Gdpr, ComplianceRegime.Hipaa, ComplianceRegime.Sox]),
        });

        Assert.Equal(new RetentionPlan(90, true, 7 * 365 - 90), proposal.Retention.StagedSourceData);
        Assert.Equal(new RetentionPlan(730, true, 3650), proposal.Retention.AnalyticsData);
        Assert.Contains("SOX", Assert.Single(proposal.Retention.Notes), StringComparison.Ordinal);
        Assert.Equal(5m * (7 * 365 - 90), proposal.Infrastructure.Storage.ArchivedData.Gb);
    }

    [Fact]
    public void Archives_kept_indefinitely_are_priced_at_what_accumulates_over_the_term()
    {
        var proposal = Priced(WorkedExample() with
        {
            LicenseTermYears = 5,
            Retention = new RetentionAnswers(StagedSourceData: new RetentionAnswer(3, RetentionUnit.Months, true, null, RetentionUnit.Indefinite)),
        });

        Assert.Equal(new RetentionPlan(90, true, null), proposal.Retention.StagedSourceData);
        Assert.Equal(450m, proposal.Infrastructure.Storage.ActiveDatabase.Gb);
        Assert.Equal(5m * (5 * 365 - 90), proposal.Infrastructure.Storage.ArchivedData.Gb);
    }

    [Fact]
    public void Unanswered_retention_takes_the_questionnaires_recommendation()
    {
        var retention = Priced(WorkedExample() with { Retention = null }).Retention;

        Assert.Equal(new RetentionPlan(90, true, 5 * 365), retention.StagedSourceData);
        Assert.Equal(new RetentionPlan(365, true, 5 * 365), retention.AnalyticsData);
        Assert.Empty(retention.Notes);
    }

    [Fact]
    public void The_estimate_sizes_gateways_by_users_and_services_by_daily_ingest_unless_counts_are_given()
    {
        var large = Priced(WorkedExample() with
        {
            Infrastructure = new InfrastructureAnswers(DailyIngestGb: 120, ConcurrentUsers: 12_000, RefreshPeriod.Hour),
        }).Infrastructure;
        var given = Priced(WorkedExample() with
        {
            Infrastructure = new InfrastructureAnswers(5, 200, Instances: new InstanceCounts(ApiGateway: 4, BackendServices: 1)),
        }).Infrastructure;

        Assert.Equal([3, 9, 9], large.Compute.Select(c => c.Count));
        Assert.Equal(120m * 30, large.Network.Gb);
        Assert.Equal([4, 6, 1], given.Compute.Select(c => c.Count));
    }

    [Fact]
    public void Every_problem_is_reported_with_its_field_and_nothing_is_priced()
    {
        var problems = Problems(WorkedExample() with
        {
            LicenseTermYears = 2,
            ClientName = " ",
            KpiCodes = ["POF", "NOPE"],
            ValueChains = ["RETAIL"],
            Infrastructure = new InfrastructureAnswers(0, 0),
            ManagedServices = new ManagedServicesAnswer(false, 10),
            Environment = new EnvironmentAnswer(HostingPlatform.None, 20),
        });

        Assert.Equal(
            ["clientName", "environment.cloudArchitectHours", "infrastructure.concurrentUsers", "infrastructure.dailyIngestGb",
             "kpiCodes[1]", "kpis[0].kpiCode", "kpis[1].kpiCode", "licenseTermYears", "managedServices.additionalHours", "valueChains[0]"],
            problems.Select(p => p.Split(": ")[0]).Order(StringComparer.Ordinal));
        Assert.Contains(problems, p => p.Contains("'NOPE' is not a catalog KPI", StringComparison.Ordinal));
    }

    [Fact]
    public void An_unknown_kpi_does_not_hide_the_problems_with_the_other_answers()
    {
        var problems = Problems(WorkedExample() with
        {
            KpiCodes = ["POF", "NOPE"],
            Kpis = null,
            DataSources = [new("shipments", IntegrationMethod.BatchConformed, EstimatedHours: new HoursEstimate(1, 2))],
        });

        Assert.Equal(
            ["kpiCodes[1]: 'NOPE' is not a catalog KPI",
             "dataSources[0].estimatedHours: batchConformed is a fixed price; estimated hours go with streamingApiNonArchitected only",
             "dataSources: 'orders' (read by POF) has no answer; say how its data is integrated"],
            problems);
    }

    [Fact]
    public void An_object_model_the_kpis_read_must_be_answered_and_answered_once()
    {
        var missing = Problems(WorkedExample() with { DataSources = [new("orders", IntegrationMethod.BatchConformed)] });
        var twice = Problems(WorkedExample() with
        {
            KpiCodes = ["POF"],
            Kpis = null,
            DataSources = [new("orders", IntegrationMethod.BatchConformed), new("ORDERS", IntegrationMethod.BatchEntityResolution), new("parcels", IntegrationMethod.BatchConformed)],
        });

        Assert.Equal(
            ["dataSources: 'accounts' (read by CRM_ACTIVE_ACCOUNTS) has no answer; say how its data is integrated",
             "dataSources: 'subscription_changes' (read by CRM_NET_NEW_MRR) has no answer; say how its data is integrated"],
            missing);
        Assert.Equal(["dataSources[1].objectModel", "dataSources[2].objectModel"], twice.Select(p => p.Split(": ")[0]));
    }

    [Fact]
    public void Kpi_answers_must_name_the_proposals_kpis_once_and_fit_them()
    {
        var client = new ClientConfig("acme", "Acme", "UTC", ["POF", "MINE"],
            [new KpiDefinition("MINE", "Mine", "", "count(orders)", "count", KpiDirection.HigherIsBetter, [], "custom", "custom")], [], 1);

        var problems = Problems(
            WorkedExample() with
            {
                KpiCodes = null,
                DataSources = [new("orders", IntegrationMethod.BatchConformed)],
                Kpis =
                [
                    new("OTD", KpiComplexity.Rbac),
                    new("pof", KpiComplexity.Rbac),
                    new("POF", KpiComplexity.Otb),
                    new("MINE", KpiComplexity.Otb),
                    new("MINE", KpiComplexity.Rbac, new HoursEstimate(5, 10)),
                ],
            },
            client);

        Assert.Equal(
            ["kpis[0].kpiCode: 'OTD' is not one of the proposal's KPIs",
             "kpis[2].kpiCode: 'POF' is answered twice",
             "kpis[3].complexity: 'MINE' is the client's own KPI; out of the box is for catalog KPIs",
             "kpis[4].estimatedHours: rbac is a fixed price; estimated hours go with dynamicRbac only"],
            problems);
    }

    [Fact]
    public void Retention_answers_that_contradict_themselves_are_refused()
    {
        var problems = Problems(WorkedExample() with
        {
            Retention = new RetentionAnswers(
                StagedSourceData: new RetentionAnswer(0, RetentionUnit.Days, false, 5, RetentionUnit.Years),
                AnalyticsData: new RetentionAnswer(1, RetentionUnit.Indefinite, true, 3, RetentionUnit.Indefinite)),
        });

        Assert.Equal(
            ["retention.stagedSourceData.activePeriod", "retention.stagedSourceData.archive", "retention.analyticsData.activeUnit",
             "retention.analyticsData.archivePeriod"],
            problems.Select(p => p.Split(": ")[0]));
    }

    [Fact]
    public void Estimated_hours_are_used_where_given_and_checked()
    {
        var proposal = Priced(WorkedExample() with
        {
            Kpis = [new("CRM_NET_NEW_MRR", KpiComplexity.DynamicRbac, new HoursEstimate(10, 12.5m))],
        });
        var problems = Problems(WorkedExample() with
        {
            Kpis = [new("CRM_NET_NEW_MRR", KpiComplexity.DynamicRbac, new HoursEstimate(30, 20))],
        });

        Assert.Equal(new MoneyRange(1_750m, 2_187.50m), proposal.Implementation.TimeAndMaterials[1].Cost);
        Assert.Equal(["kpis[0].estimatedHours"], problems.Select(p => p.Split(": ")[0]));
    }

    [Theory]
    [InlineData(39.5)]
    [InlineData(81)]
    public void A_platforms_setup_takes_40_to_80_hours(double hours)
    {
        Assert.Equal(
            ["environment.cloudArchitectHours"],
            Problems(WorkedExample() with { Environment = new EnvironmentAnswer(HostingPlatform.Gcp, (decimal)hours) }).Select(p => p.Split(": ")[0]));
    }

    [Fact]
    public void A_client_with_more_selected_kpis_than_a_proposal_covers_is_told_to_name_them()
    {
        var client = new ClientConfig("big", "Big", "UTC", [.. Enumerable.Repeat("POF", ProposalScope.MaxKpis + 1)], [], [], 1);

        Assert.Contains(
            Problems(WorkedExample() with { ClientName = null, KpiCodes = null }, client),
            p => p.StartsWith("kpiCodes: client 'big' has 501 selected KPIs", StringComparison.Ordinal));
    }

    [Fact]
    public void A_configured_price_list_prices_the_same_answers_otherwise()
    {
        var configuration = Microsoft.Extensions.Configuration.MemoryConfigurationBuilderExtensions.AddInMemoryCollection(
                new Microsoft.Extensions.Configuration.ConfigurationBuilder(), new Dictionary<string, string?>
            {
                ["AnnualLicensePerChain:3"] = "30000",
                ["IntegrationPrices:BatchConformed"] = "1750",
                ["ArchitectHourlyRate"] = "200",
                ["SupportRetainer"] = "6000",
            })
            .Build();
        var prices = new PriceList();
        Microsoft.Extensions.Configuration.ConfigurationBinder.Bind(configuration, prices);

        var proposal = ProposalCalculator.Calculate(WorkedExample(), null, Today, prices).Proposal!;

        Assert.Equal(60_000m, proposal.Licensing.AnnualTotal);
        Assert.Equal(35_000m, prices.AnnualLicenseFor(1));
        Assert.Equal(1_750m, proposal.Implementation.DataIntegration[2].Cost);
        Assert.Equal(60m * 200, proposal.Implementation.Environment.Cost);
        Assert.Equal(new MoneyRange(40m * 200, 60m * 200), proposal.Implementation.TimeAndMaterials[0].Cost);
        Assert.Equal(6_000m + 50 * 75m, proposal.ManagedServices.AnnualTotal);
        Assert.Empty(prices.Problems());
    }

    [Fact]
    public void A_price_list_that_prices_time_and_materials_or_goes_below_zero_is_refused()
    {
        var prices = new PriceList { DataTransferPerGb = -0.01m };
        prices.KpiPrices[KpiComplexity.DynamicRbac] = 500m;

        Assert.Equal(2, prices.Problems().Count());
    }

    [Fact]
    public void Without_kpis_or_a_client_there_is_nothing_to_propose()
    {
        Assert.Contains(
            "kpiCodes: give the KPIs to propose, or a clientId whose selected KPIs to propose",
            Problems(WorkedExample() with { KpiCodes = null }));
    }
}
