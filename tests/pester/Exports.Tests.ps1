#Requires -Version 7.6
# What events are as text and as time: ToString reads like the row, labels export as k=v and come
# back the same, and Timestamp is local time that compares right with Get-Date in any zone.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:Ansi = "\x1b\[[0-9;]*m"
    if (Test-KernelTracing) {
        $script:Agent = Start-TestAgent -ModulePath $ModulePath
        $script:PreviousSocket = $env:GADGET_AGENT_SOCKET
        $env:GADGET_AGENT_SOCKET = $Agent.Socket
    }
}

AfterAll {
    $env:GADGET_AGENT_SOCKET = $script:PreviousSocket
    Stop-TestAgent $script:Agent
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
}
