using System.Net;
using System.Reflection;
using Newtonsoft.Json;
using Xunit;

namespace Gadget.Tests.Gadgets;

/// <summary>
/// ConvertTo-Json in PowerShell 7.4 to 7.6 writes an object's public properties as reflection finds
/// them, skipping those marked with Newtonsoft's JsonIgnore, and expands any value that is not a
/// string, number, truth value or time into its own .NET properties. Each typed property of an
/// event (address, endpoint, duration, enum) therefore hides a same-named text form in its type's
/// *Json base class. These checks hold every event type to it, hand-written properties included.
/// </summary>
public sealed class JsonTextTests
{
    private static readonly Type[] EventTypes =
        [.. typeof(GadgetEvent).Assembly.GetExportedTypes().Where(t => t.IsSealed && typeof(GadgetEvent).IsAssignableFrom(t) && t != typeof(GadgetRecord))];

    public static TheoryData<string> EventTypeNames => [.. EventTypes.Select(t => t.Name)];

    [Fact]
    public void EveryGeneratedTypeIsChecked()
    {
        Assert.Contains(nameof(DnsEvent), EventTypeNames);
        Assert.Contains(nameof(TopTcpRow), EventTypeNames);
        Assert.Contains(nameof(ProcessEntry), EventTypeNames);
    }

    [Theory]
    [MemberData(nameof(EventTypeNames))]
    public void ConvertToJsonFindsNoValueItWouldExpandAndNoNameTwice(string name)
    {
        Type type = EventTypes.Single(t => t.Name == name);
        PropertyInfo[] written = [.. type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => !p.IsDefined(typeof(JsonIgnoreAttribute), true))];

        Assert.Equal(written.Length, written.Select(p => p.Name).Distinct(StringComparer.Ordinal).Count());
        foreach (PropertyInfo property in written)
        {
            Assert.False(Expanded(property.PropertyType), $"ConvertTo-Json would write {name}.{property.Name} ({property.PropertyType.Name}) as the fields of a .NET object or as a number.");
        }
    }

    [Theory]
    [MemberData(nameof(EventTypeNames))]
    public void EachTypedPropertyStaysTypedAndHasItsTextUnderItsName(string name)
    {
        Type type = EventTypes.Single(t => t.Name == name);
        foreach (PropertyInfo typed in type.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly).Where(p => Expanded(p.PropertyType)))
        {
            Assert.True(typed.IsDefined(typeof(JsonIgnoreAttribute), true), $"{name}.{typed.Name} lacks [JsonIgnore].");
            PropertyInfo? text = type.BaseType?.GetProperty(typed.Name, BindingFlags.Public | BindingFlags.Instance);
            Assert.True(text is not null, $"{name}.{typed.Name} has no text form in {type.BaseType?.Name}.");
            Assert.Equal(typeof(object), text.PropertyType);

            // What C# (and PowerShell's adapter, which takes the most derived) reads is the typed one.
            Assert.Same(typed, EveryGadgetRoundTripTests.MostDerived(type, typed.Name, BindingFlags.Public | BindingFlags.Instance));
        }
    }

    [Fact]
    public void TextFormsReadAsPeopleWriteThemAndParseBack()
    {
        Assert.Equal("127.0.0.1", JsonText.Of(IPAddress.Loopback));
        Assert.Equal("127.0.0.1:53", JsonText.Of(new IPEndPoint(IPAddress.Loopback, 53)));
        Assert.Equal("[::1]:53", JsonText.Of(new IPEndPoint(IPAddress.IPv6Loopback, 53)));
        Assert.Equal(["127.1.2.3", "fd00::1"], JsonText.Of(new IPAddressList([IPAddress.Parse("127.1.2.3"), IPAddress.Parse("fd00::1")]))!);
        Assert.Equal("00:00:00.0012340", JsonText.Of(TimeSpan.FromTicks(12_340)));
        Assert.Equal(TimeSpan.FromTicks(12_340), TimeSpan.Parse(JsonText.Of(TimeSpan.FromTicks(12_340))!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Null(JsonText.Of((TimeSpan?)null));
        Assert.Equal("NXDomain", JsonText.Of(DnsResponseCode.NXDomain));
        Assert.Equal("NoResponse", JsonText.Of(DnsResponseCode.NoResponse));
    }

    /// <summary>Types ConvertTo-Json writes as nested objects (addresses, endpoints, durations) or as numbers (enums).</summary>
    private static bool Expanded(Type type)
    {
        Type t = Nullable.GetUnderlyingType(type) ?? type;
        return t.IsEnum || t == typeof(IPAddress) || t == typeof(IPEndPoint) || t == typeof(TimeSpan) || t == typeof(IPAddressList);
    }
}
