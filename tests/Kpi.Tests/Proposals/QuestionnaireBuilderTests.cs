using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Proposals;

namespace AnalyticsEngine.Kpi.Tests.Proposals;

public sealed class QuestionnaireBuilderTests
{
    [Fact]
    public void The_questionnaire_names_the_value_chains_and_object_models_the_kpis_need()
    {
        var questionnaire = QuestionnaireBuilder.Build(["POF", "CRM_LOGO_CHURN_RATE", "OTD"], client: null).Questionnaire!;

        Assert.Equal(["SCOR", "CRM"], questionnaire.ValueChains.Select(c => c.Code));
        Assert.Equal(["POF", "OTD"], questionnaire.ValueChains[0].Kpis);
        Assert.Equal(
            [("orders", "POF,OTD"), ("accounts", "CRM_LOGO_CHURN_RATE"), ("subscription_changes", "CRM_LOGO_CHURN_RATE")],
            questionnaire.ObjectModels.Select(m => (m.Code, string.Join(',', m.Kpis))));
        Assert.All(questionnaire.Kpis, k => Assert.Equal(KpiComplexity.Otb, k.DefaultComplexity));
    }

    [Fact]
    public void Every_choice_carries_its_price_or_its_rate_and_hours()
    {
        var questionnaire = QuestionnaireBuilder.Build(["POF"], client: null).Questionnaire!;

        Assert.Equal([(1, 35_000m, 0m), (3, 32_500m, 7m), (5, 30_000m, 14m)], questionnaire.LicenseTerms.Select(t => (t.Years, t.AnnualCostPerChain, t.DiscountPercent)));
        Assert.Equal([1_500m, 2_500m, 3_500m, 3_500m, 2_500m, null], questionnaire.IntegrationMethods.Select(m => m.Price));
        Assert.Equal(new HoursEstimate(40, 60), questionnaire.IntegrationMethods[^1].EstimatedHours);
        Assert.Equal([50m, 50m, 100m, null], questionnaire.KpiComplexities.Select(c => c.Price));
        Assert.Equal(175m, questionnaire.KpiComplexities[^1].HourlyRate);
        Assert.Equal(6, questionnaire.Platforms.Count);
        Assert.Null(questionnaire.Platforms[0].HourlyRate);
        Assert.Equal(new ManagedServicesChoice(5_000m, 66.67m, 75m), questionnaire.ManagedServices);
        Assert.Equal([null, 7, 6, null], questionnaire.Retention.Compliance.Select(c => c.MinimumYears));
        Assert.Equal(90, questionnaire.Retention.StagedSourceDataActive.Single(p => p.Recommended).Period);
    }

    [Fact]
    public void A_clients_questionnaire_covers_its_selected_kpis_its_custom_ones_as_custom()
    {
        var custom = new KpiDefinition("MINE", "Mine", "", "sum(invoices.amount)", "currency", KpiDirection.HigherIsBetter, [], "custom", "custom");
        var client = new ClientConfig("acme", "Acme", "UTC", ["OTD", "MINE"], [custom], [], 1);

        var questionnaire = QuestionnaireBuilder.Build(null, client).Questionnaire!;

        Assert.Equal("acme", questionnaire.ClientId);
        Assert.Equal([("OTD", false, KpiComplexity.Otb), ("MINE", true, KpiComplexity.CustomBasic)], questionnaire.Kpis.Select(k => (k.Code, k.Custom, k.DefaultComplexity)));
        Assert.Equal(["SCOR", "MSP"], questionnaire.ValueChains.Select(c => c.Code));
    }

    [Fact]
    public void Unknown_kpis_are_refused_by_their_place_in_the_list()
    {
        var outcome = QuestionnaireBuilder.Build(["POF", "NOPE", ""], client: null);

        Assert.Null(outcome.Questionnaire);
        Assert.Equal(["kpiCodes[1]: 'NOPE' is not a catalog KPI", "kpiCodes[2]: is empty"], outcome.Problems);
    }

    [Fact]
    public void Every_object_model_belongs_to_a_value_chain_of_the_catalog()
    {
        Assert.All(BuiltInCatalog.ObjectModels, model =>
            Assert.NotNull(BuiltInCatalog.FindValueChain(BuiltInCatalog.ValueChainOfObjectModel(model.Code))));
        Assert.Equal("SCOR", BuiltInCatalog.ValueChainOfObjectModel("orders"));
        Assert.Equal("TIME_TRACKING", BuiltInCatalog.ValueChainOfObjectModel("time_entries"));
    }
}
