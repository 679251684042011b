#Requires -Version 7.6
# What events are as text and as time: ToString reads like the row, labels export as k=v and come
# back the same, and Timestamp is local time that compares right with Get-Date in any zone.
# ConvertTo-Json writes addresses, endpoints and durations as text and enums by name, and Export-Csv
# writes times with milliseconds and zone, while the objects keep their typed properties. Each
# event names the thread that caused it where the thread has a name of its own.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:Ansi = "\x1b\[[0-9;]*m"
    $script:Agent = Enter-TestAgent -ModulePath $ModulePath
}

AfterAll {
    Exit-TestAgent $script:Agent
}

Describe 'An exec event' -Skip:$SkipKernel {
    BeforeAll {
        $marker = New-Marker
        $script:Marker = $marker
        $activity = Start-ExecActivity -Marker $marker
        try {
            $script:Start = Get-Date
            $script:Events = @(Trace-GadgetExec -Local -Duration 20 | Where-Object { $_.Args -contains $marker } | Select-Object -First 2)
            $script:End = Get-Date
        }
        finally { Stop-ExecActivity $activity | Out-Null }
        $script:ExecEvent = $Events[0]
    }

    It 'reads as its table row in ToString and in string expansion' {
        $text = "$ExecEvent"
        $text | Should -BeExactly $ExecEvent.ToString()
        $text | Should -Match ('^' + [regex]::Escape($ExecEvent.Timestamp.ToString('HH:mm:ss.fff')) + " $($ExecEvent.Pid) $PID \d+ true /bin/true $Marker$")
        $text | Should -Not -Match 'Gadget\.ExecEvent'
    }

    It 'has a local Timestamp between two Get-Date calls around the trace' {
        $ExecEvent.Timestamp.Kind | Should -Be ([DateTimeKind]::Local)
        @($Events | Where-Object Timestamp -gt $Start | Where-Object Timestamp -lt $End).Count | Should -Be $Events.Count
    }

    It 'exports to CSV and reads back the same strings, labels as k=v' {
        $csv = Join-Path ([IO.Path]::GetTempPath()) "gadget-exports-$PID.csv"
        try {
            $ExecEvent | Export-Csv $csv
            $back = Import-Csv $csv
            $back.Pid | Should -BeExactly "$($ExecEvent.Pid)"
            $back.Comm | Should -BeExactly 'true'
            $back.Args | Should -BeExactly "/bin/true $Marker"
            $back.PodLabels | Should -BeExactly '' -Because 'a process on the host has no labels'
        }
        finally { Remove-Item $csv -ErrorAction Ignore }
    }
}

Describe 'Pod labels' {
    It 'print as k=v,k2=v2 (sorted by key) and come back from CSV as the same string' {
        $dictionary = [Collections.Generic.Dictionary[string, string]]::new()
        $dictionary['tier'] = 'front'
        $dictionary['app'] = 'web'
        $labels = [Gadget.PodLabels]::new($dictionary)
        "$labels" | Should -BeExactly 'app=web,tier=front'
        $labels['app'] | Should -BeExactly 'web'
        $back = [pscustomobject]@{ PodLabels = $labels } | ConvertTo-Csv | ConvertFrom-Csv
        $back.PodLabels | Should -BeExactly 'app=web,tier=front'
    }

    It 'convert to a JSON object of the labels' {
        $dictionary = [Collections.Generic.Dictionary[string, string]]::new()
        $dictionary['app'] = 'web'
        $json = [pscustomobject]@{ PodLabels = [Gadget.PodLabels]::new($dictionary) } | ConvertTo-Json -Compress
        $json | Should -BeExactly '{"PodLabels":{"app":"web"}}'
    }
}

Describe 'Time off UTC (TZ=Asia/Tokyo, a fresh pwsh)' -Skip:$SkipKernel {
    BeforeAll {
        $marker = New-Marker
        $command = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$(Join-Path $ModulePath 'Gadget.psd1')'
`$job = Start-ThreadJob { for (`$i = 0; `$i -lt 100; `$i++) { & /bin/true $marker; Start-Sleep -Milliseconds 100 } }
`$start = Get-Date
`$events = @(Trace-GadgetExec -Local -Duration 20 | Where-Object { `$_.Args -contains '$marker' } | Select-Object -First 2)
`$end = Get-Date
`$job | Stop-Job
'offset=' + [TimeZoneInfo]::Local.GetUtcOffset([datetime]::UtcNow).TotalHours
'events=' + `$events.Count
'kept=' + @(`$events | Where-Object Timestamp -gt `$start | Where-Object Timestamp -lt `$end).Count
'utc=' + `$events[0].Timestamp.ToUniversalTime().ToString('o')
'startutc=' + `$start.ToUniversalTime().ToString('o')
'row=' + ((`$events[0] | Format-Table | Out-String -Width 120) -split "``n" | Where-Object { `$_ -match '$marker' } | Select-Object -First 1)
'local=' + `$events[0].Timestamp.ToString('HH:mm:ss.fff')
'formatted=' + ('{0:HH:mm:ss.fff}' -f `$events[0].Timestamp)
`$csv = Join-Path ([IO.Path]::GetTempPath()) "gadget-exports-tz-`$PID.csv"
`$events | Export-Csv `$csv
'csv=' + (@(Import-Csv `$csv)[0].Timestamp)
Remove-Item `$csv
'iso=' + `$events[0].Timestamp.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ss.fff') + 'Z'
'json=' + (`$events[0] | ConvertTo-Json | ConvertFrom-Json -DateKind String).Timestamp
"@
        $start = New-FreshPwshStart $command
        $start.Environment['TZ'] = 'Asia/Tokyo'
        $process = [Diagnostics.Process]::Start($start)
        try {
            $errors = $process.StandardError.ReadToEndAsync()
            $output = $process.StandardOutput.ReadToEndAsync()
            if (-not $process.WaitForExit(60000)) { $process.Kill(); throw 'The fresh pwsh did not finish within a minute.' }
            $script:ExitCode = $process.ExitCode
            $script:Errors = $errors.Result -replace $Ansi
            $script:Result = @{}
            foreach ($line in ($output.Result -replace $Ansi) -split "`r?`n") {
                if ($line -match '^(?<key>\w+)=(?<value>.*)$') { $Result[$Matches.key] = $Matches.value }
            }
        }
        finally { $process.Dispose() }
    }

    It 'runs in a zone nine hours east of UTC' {
        $ExitCode | Should -Be 0 -Because $Errors
        $Result.offset | Should -Be '9'
    }

    It 'keeps every event with Where-Object Timestamp -gt (Get-Date before the trace)' {
        $Result.events | Should -Be '2'
        $Result.kept | Should -Be '2'
        [datetime]::Parse($Result.utc).ToUniversalTime() | Should -BeGreaterThan ([datetime]::Parse($Result.startutc).ToUniversalTime())
    }

    It 'shows local time in the table' {
        $Result.row | Should -Match ('^' + [regex]::Escape($Result.local) + '\s')
    }

    It 'still formats Timestamp with -f' {
        $Result.formatted | Should -BeExactly $Result.local
    }

    It 'writes Timestamp to CSV in ISO 8601 with milliseconds and the zone, and Import-Csv reads back that string' {
        $Result.csv | Should -Match '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+09:00$'
        $Result.csv.Substring(11, 12) | Should -BeExactly $Result.local
        ([DateTimeOffset]::Parse($Result.csv, [Globalization.CultureInfo]::InvariantCulture)).UtcDateTime.ToString('yyyy-MM-ddTHH:mm:ss.fff') + 'Z' | Should -BeExactly $Result.iso
    }

    It 'writes Timestamp to JSON with its zone' {
        $Result.json | Should -Match '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+09:00$'
    }
}

Describe 'A TCP event in JSON, CSV and memory' -Skip:$SkipKernel {
    BeforeAll {
        $listener = [Net.Sockets.TcpListener]::new([ipaddress]::Loopback, 0)
        $listener.Start()
        $script:Port = $listener.LocalEndpoint.Port
        $job = Start-ThreadJob -ArgumentList $Port -ScriptBlock {
            param($Port)
            Start-Sleep -Milliseconds 1500
            for ($i = 0; $i -lt 100; $i++) {
                $client = [Net.Sockets.TcpClient]::new([Net.Sockets.AddressFamily]::InterNetwork)
                try { $client.Connect([ipaddress]::Loopback, $Port) } catch { } finally { $client.Dispose() }
                Start-Sleep -Milliseconds 200
            }
        }
        try {
            $script:Tcp = Trace-GadgetTcp -Local -Duration 20 -Pid $PID |
                Where-Object { $_.Type -eq 'Connect' -and $_.Destination.Port -eq $Port } | Select-Object -First 1
        }
        finally {
            $job | Stop-Job -PassThru | Remove-Job
            $listener.Stop()
        }
        $script:Json = $Tcp | ConvertTo-Json
        $script:Back = $Json | ConvertFrom-Json
    }

    It 'was seen' {
        $Tcp | Should -Not -BeNullOrEmpty
    }

    It 'writes its endpoints as address:port text' {
        $Back.Source | Should -BeExactly $Tcp.Source.ToString()
        $Back.Source | Should -Match '^127\.0\.0\.1:\d+$'
        $Back.Destination | Should -BeExactly "127.0.0.1:$Port"
    }

    It 'writes its enums by name' {
        $Back.Type | Should -BeExactly 'Connect'
        $Back.Error | Should -BeExactly 'None'
        $Back.Family | Should -BeExactly 'IPv4'
    }

    It 'goes into no .NET object: every value is text, a number, a truth value or null (labels are an object of text)' {
        foreach ($property in $Back.PSObject.Properties) {
            if ($property.Name -eq 'PodLabels') { continue }
            ($property.Value -is [Management.Automation.PSCustomObject]) | Should -BeFalse -Because "$($property.Name) is a value"
        }
        $Json | Should -Not -Match '"(AddressFamily|ScopeId|IsIPv6Multicast|Ticks|TotalMilliseconds)"'
    }

    It 'writes several events alike' {
        $many = @($Tcp, $Tcp) | ConvertTo-Json -Compress | ConvertFrom-Json
        $many.Count | Should -Be 2
        $many.Destination | Should -Be @("127.0.0.1:$Port", "127.0.0.1:$Port")
        @{ Event = $Tcp } | ConvertTo-Json -Compress | ConvertFrom-Json | ForEach-Object { $_.Event.Destination } | Should -BeExactly "127.0.0.1:$Port"
    }

    It 'keeps its typed properties in memory' {
        $Tcp.Source | Should -BeOfType [Net.IPEndPoint]
        $Tcp.Destination.Port | Should -Be $Port
        $Tcp.Destination.Address | Should -BeOfType [ipaddress]
        $Tcp.Destination.Address -eq [ipaddress]'127.0.0.1' | Should -BeTrue
        $Tcp.Type | Should -BeOfType [Gadget.TcpEventType]
        @($Tcp | Where-Object Type -eq 'Connect').Count | Should -Be 1
        @($Tcp | Where-Object Error -ne 0).Count | Should -Be 0
        $Tcp.Timestamp | Should -BeOfType [datetime]
        ($Tcp | Get-Member -Name Source).Definition | Should -Match 'IPEndPoint'
    }

    It 'keeps them through Select-Object *, and Export-Clixml still round-trips the time' {
        $selected = $Tcp | Select-Object *
        $selected.Source | Should -BeOfType [Net.IPEndPoint]
        $selected.Timestamp | Should -BeOfType [datetime]
        $xml = Join-Path ([IO.Path]::GetTempPath()) "gadget-exports-$PID.xml"
        try {
            $Tcp | Export-Clixml $xml
            $back = Import-Clixml $xml
            $back.Timestamp | Should -BeOfType [datetime]
            $back.Timestamp | Should -Be $Tcp.Timestamp
            "$($back.Source)" | Should -BeExactly "$($Tcp.Source)"
            [Gadget.TcpEventType]$back.Type | Should -Be ([Gadget.TcpEventType]::Connect)
        }
        finally { Remove-Item $xml -ErrorAction Ignore }
    }

    It 'writes the same text to CSV' {
        $back = $Tcp | ConvertTo-Csv | ConvertFrom-Csv
        $back.Destination | Should -BeExactly "127.0.0.1:$Port"
        $back.Type | Should -BeExactly 'Connect'
        $back.Timestamp | Should -BeExactly $Tcp.Timestamp.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz")
    }
}

Describe 'DNS events in JSON' -Skip:$SkipKernel {
    BeforeAll {
        $script:Server = '127.0.83.1'
        $pidFile = Join-Path ([IO.Path]::GetTempPath()) "gadget-exports-dns-$PID.pid"
        $arguments = @('--no-daemon', '--conf-file=/dev/null', '--port=53', '--bind-interfaces', '--no-resolv', '--no-hosts',
            "--pid-file=$pidFile", "--listen-address=$Server", '--address=/known.test/127.1.2.3')
        $script:Dnsmasq = Start-Process dnsmasq -ArgumentList $arguments -PassThru -RedirectStandardError "$pidFile.log"
        Wait-Condition { (& dig "@$Server" +short +tries=1 +timeout=1 known.test) -contains '127.1.2.3' } -Timeout '00:00:10' | Should -BeTrue
        $marker = New-Marker
        $job = Start-ThreadJob -ArgumentList $marker, $Server -ScriptBlock {
            param($Marker, $Server)
            Start-Sleep -Milliseconds 1500
            for ($i = 0; $i -lt 60; $i++) { $null = & dig "@$Server" +tries=1 +timeout=1 "$Marker.known.test"; Start-Sleep -Milliseconds 300 }
        }
        try {
            $events = @(Trace-GadgetDns -Local -Duration 20 -Name "$marker.*" |
                Where-Object { $_.Qr -eq 'Response' -and $null -ne $_.Latency } | Select-Object -First 1)
        }
        finally {
            $job | Stop-Job -PassThru | Remove-Job
            $Dnsmasq.Kill()
            Remove-Item $pidFile, "$pidFile.log" -ErrorAction Ignore
        }
        $script:Response = $events[0]
        $script:Back = $Response | ConvertTo-Json | ConvertFrom-Json
    }

    It 'writes the latency as a duration [TimeSpan] reads back' {
        $Response.Latency | Should -BeOfType [timespan]
        $Back.Latency | Should -Match '^\d\d:\d\d:\d\d(\.\d{7})?$'
        [timespan]$Back.Latency | Should -Be $Response.Latency
    }

    It 'writes addresses and endpoints as text, and the codes by name' {
        $Back.Nameserver | Should -BeExactly $Server
        $Back.Src | Should -BeExactly "${Server}:53"
        $Back.Addresses | Should -Be @('127.1.2.3')
        $Back.Rcode | Should -BeExactly 'NoError'
        $Back.QType | Should -BeExactly 'A'
        $Back.Qr | Should -BeExactly 'Response'
        $Back.Protocol | Should -BeExactly 'Udp'
    }

    It 'keeps the typed properties in memory' {
        @($Response | Where-Object Rcode -ne 'NoError').Count | Should -Be 0
        @($Response | Where-Object Rcode -eq 0).Count | Should -Be 1
        $Response.Nameserver -eq [ipaddress]$Server | Should -BeTrue
        $Response.Src.Port | Should -Be 53
        $Response.Addresses[0] | Should -BeOfType [ipaddress]
    }
}

Describe 'The thread''s own name' -Skip:$SkipKernel {
    BeforeAll {
        # A process whose worker thread names itself (prctl PR_SET_NAME) and opens one file, while
        # its main thread opens another: Comm is the process's name for both, ThreadName the worker's.
        $script:Directory = New-TestDirectory 'gadget-thread-name'
        $source = Join-Path $Directory 'named.c'
        Set-Content $source @'
#include <fcntl.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <unistd.h>

static const char *worker_path;

static void *worker(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "gadget-worker");
	for (int i = 0; i < 100; i++) {
		int fd = open(worker_path, O_RDONLY);
		if (fd >= 0)
			close(fd);
		usleep(200000);
	}
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t thread;

	if (argc < 3)
		return 2;
	worker_path = argv[1];
	pthread_create(&thread, 0, worker, 0);
	for (int i = 0; i < 100; i++) {
		int fd = open(argv[2], O_RDONLY);
		if (fd >= 0)
			close(fd);
		usleep(200000);
	}
	pthread_join(thread, 0);
	return 0;
}
'@
        $script:Program = Join-Path $Directory 'gadget-named'
        & cc -O2 -pthread -o $Program $source
        $LASTEXITCODE | Should -Be 0
        $script:WorkerPath = Join-Path $Directory 'worker-file'
        $script:MainPath = Join-Path $Directory 'main-file-missing'
        Set-Content $WorkerPath 'x'
        $job = Start-ThreadJob -ArgumentList $Program, $WorkerPath, $MainPath -ScriptBlock {
            param($Program, $WorkerPath, $MainPath)
            Start-Sleep -Milliseconds 1500
            & $Program $WorkerPath $MainPath
        }
        try {
            $seen = @{}
            $script:Events = @(Trace-GadgetOpen -Local -Duration 25 -Comm 'gadget-named' |
                Where-Object { $_.Path -in $WorkerPath, $MainPath -and -not $seen.ContainsKey($_.Path) } |
                ForEach-Object { $seen[$_.Path] = $true; $_ } | Select-Object -First 2)
        }
        finally { $job | Stop-Job -PassThru | Remove-Job }
        $script:Worker = $Events | Where-Object Path -eq $WorkerPath
        $script:Main = $Events | Where-Object Path -eq $MainPath
    }

    AfterAll {
        Remove-Item $Directory -Recurse -Force -ErrorAction Ignore
    }

    It 'matches -Comm by the process''s name, on every thread' {
        $Worker | Should -Not -BeNullOrEmpty
        $Main | Should -Not -BeNullOrEmpty
        $Worker.Comm | Should -BeExactly 'gadget-named'
        $Main.Comm | Should -BeExactly 'gadget-named'
    }

    It 'names the worker thread in ThreadName, and leaves it empty on the main thread' {
        $Worker.Tid | Should -Not -Be $Worker.Pid
        $Worker.ThreadName | Should -BeExactly 'gadget-worker'
        $Main.Tid | Should -Be $Main.Pid
        $Main.ThreadName | Should -BeNullOrEmpty
    }

    It 'writes the thread name and the open''s codes to JSON' {
        $workerJson = $Worker | ConvertTo-Json | ConvertFrom-Json
        $workerJson.ThreadName | Should -BeExactly 'gadget-worker'
        $workerJson.Error | Should -BeExactly 'None'
        $workerJson.Access | Should -BeExactly 'Read'
        $workerJson.Flags | Should -BeExactly $Worker.Flags.ToString()
        $mainJson = $Main | ConvertTo-Json | ConvertFrom-Json
        $mainJson.ThreadName | Should -BeNullOrEmpty
        $mainJson.Error | Should -BeExactly 'ENOENT'
        $Main.Error | Should -BeOfType [Gadget.Errno]
        $Main.Access | Should -BeOfType [IO.FileAccess]
    }
}
