using System.Net;
using System.Reflection;
using System.Xml.Linq;
using Xunit;

namespace Gadget.Tests.Gadgets;

/// <summary>
/// The views never print text a traced process controls raw: every event type has a list view of
/// all its public properties, and every text property (in list and table views alike) goes
/// through ControlText.Display. The rendered output is checked in tests/pester/Hostile.Tests.ps1.
/// </summary>
public sealed class FormatViewTests
{
    private const string Display = "[Gadget.ControlText]::Display(";

    public static TheoryData<string> EventTypes() => [.. Tracing.EventTypes.Names];

    [Theory]
    [MemberData(nameof(EventTypes))]
    public void TheListViewShowsEveryPublicPropertyAndEscapesText(string typeName)
    {
        Type type = typeof(GadgetEvent).Assembly.GetType("Gadget." + typeName, throwOnError: true)!;
        XElement list = Views("Gadget.Events.Format.ps1xml", "Gadget." + typeName).Single(v => v.Element("ListControl") is not null);
        Dictionary<string, XElement> items = list.Descendants("ListItem").ToDictionary(Label, StringComparer.Ordinal);

        foreach (PropertyInfo property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            Assert.True(items.TryGetValue(property.Name, out XElement? item), $"{typeName}.{property.Name} is missing from its list view.");
            if (IsText(property.PropertyType))
            {
                Assert.StartsWith(Display, (string?)item.Element("ScriptBlock") ?? $"{property.Name}: raw");
            }
        }
    }

    [Theory]
    [InlineData("Gadget.Events.Format.ps1xml")]
    [InlineData("Gadget.Format.ps1xml")]
    public void EveryScriptAndTextColumnOfEveryTableIsEscaped(string file)
    {
        foreach (XElement table in Document(file).Descendants("View").Where(v => v.Element("TableControl") is not null))
        {
            Type? type = typeof(GadgetEvent).Assembly.GetType((string)table.Element("ViewSelectedBy")!.Element("TypeName")!);
            foreach (XElement item in table.Descendants("TableColumnItem"))
            {
                if (item.Element("ScriptBlock") is XElement script)
                {
                    Assert.StartsWith(Display, script.Value);
                }
                else if ((type is null ? null : EveryGadgetRoundTripTests.MostDerived(type, item.Element("PropertyName")!.Value, BindingFlags.Instance | BindingFlags.Public)) is PropertyInfo property)
                {
                    Assert.False(IsText(property.PropertyType), $"{type!.Name}.{property.Name} is text shown raw in view {table.Element("Name")!.Value}.");
                }
            }
        }
    }

    [Fact]
    public void DisplayEscapesTextAndLeavesOtherValuesAlone()
    {
        Assert.Equal(@"\e]0;owned\x07\e[2J", ControlText.Display("\x1b]0;owned\a\x1b[2J"));
        Assert.Equal(@"/bin/echo '\e[1A\e[2K x' \x9b", ControlText.Display(new ArgumentList(["/bin/echo", "\x1b[1A\x1b[2K x", "\x9b"])));
        Assert.Equal(@"app=\x7f", ControlText.Display(new Dictionary<string, string> { ["app"] = "\x7f" }));
        Assert.Equal(Errno.ENOENT, ControlText.Display(Errno.ENOENT));
        Assert.Equal(42, ControlText.Display(42));
        Assert.Equal(IPAddress.Loopback, ControlText.Display(IPAddress.Loopback));
        Assert.Null(ControlText.Display(null));
    }

    private static bool IsText(Type type)
        => type == typeof(string) || type == typeof(ArgumentList) || type == typeof(IReadOnlyDictionary<string, string>);

    private static string Label(XElement item)
        => (string?)item.Element("Label") ?? (string)item.Element("PropertyName")!;

    private static XDocument Document(string file) => XDocument.Load(Path.Combine(Repository.Root, "module", file));

    private static IEnumerable<XElement> Views(string file, string typeName)
        => Document(file).Descendants("View").Where(v => (string)v.Element("ViewSelectedBy")!.Element("TypeName")! == typeName);
}
