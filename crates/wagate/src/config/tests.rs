//! Configuration layers, defaults and checks.

use super::*;

#[test]
fn defaults_need_no_file_and_no_env() {
    figment::Jail::expect_with(|_jail| {
        let config = Config::load(None).expect("defaults load");
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database_url(), "sqlite://data/wagate.db?mode=rwc");
        assert_eq!((config.throttle.min_delay_ms, config.throttle.max_delay_ms), (8000, 22000));
        Ok(())
    });
}

#[test]
fn env_wins_over_the_file() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "wagate.toml",
            "bind = \"0.0.0.0:9000\"\ndefault_country = \"LB\"\n[throttle]\nmin_delay_ms = 1\nmax_delay_ms = 2\n",
        )?;
        jail.set_env("WAGATE_BIND", "127.0.0.1:9100");
        jail.set_env("WAGATE_THROTTLE__MAX_DELAY_MS", "50");
        let config = Config::load(None).expect("loads");
        assert_eq!(config.bind.to_string(), "127.0.0.1:9100");
        assert_eq!((config.throttle.min_delay_ms, config.throttle.max_delay_ms), (1, 50));
        assert!(config.country().unwrap().is_some());
        Ok(())
    });
}

/// The documented example lists the defaults, so copying it changes nothing.
#[test]
fn the_example_file_loads_and_matches_the_defaults() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("wagate.toml", include_str!("../../../../wagate.example.toml"))?;
        let config = Config::load(None).expect("the example loads");
        let defaults = Config::default();
        assert_eq!(serde_json::to_value(&config).unwrap(), serde_json::to_value(&defaults).unwrap());
        Ok(())
    });
}

#[test]
fn other_wagate_variables_are_not_options() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("WAGATE_KEY", "wag_from_the_quickstart");
        jail.set_env("WAGATE_TEST_POSTGRES", "postgres://x");
        jail.set_env("WAGATE_LOG", "debug");
        let config = Config::load(None).expect("loads");
        assert_eq!(config.log, "debug");
        Ok(())
    });
}

#[test]
fn nonsense_is_refused_at_start() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("WAGATE_DEFAULT_COUNTRY", "Narnia");
        assert!(Config::load(None).is_err());
        jail.set_env("WAGATE_DEFAULT_COUNTRY", "DE");
        jail.set_env("WAGATE_API_KEY", "short");
        assert!(Config::load(None).is_err());
        Ok(())
    });
}

#[test]
fn media_lives_in_the_data_dir_unless_told_otherwise() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("WAGATE_DATA_DIR", "/var/lib/wagate");
        let media = Config::load(None).expect("loads").media().expect("media settings");
        assert_eq!(media.dir, PathBuf::from("/var/lib/wagate/media"));
        assert_eq!((media.max_bytes, media.fetch_timeout), (64 * 1024 * 1024, Duration::from_secs(30)));
        assert_eq!(media.images, ImagePolicy { max_side: 1280, jpeg_quality: 78, reencode: true });

        jail.create_file("wagate.toml", "[media]\ndir = \"/srv/media\"\nallow_networks = [\"10.1.0.0/16\"]\n")?;
        jail.set_env("WAGATE_MEDIA__JPEG_QUALITY", "90");
        let config = Config::load(None).expect("loads");
        let media = config.media().expect("media settings");
        assert_eq!((media.dir, media.images.jpeg_quality), (PathBuf::from("/srv/media"), 90));
        assert_eq!(config.media.allow_networks, ["10.1.0.0/16"]);
        Ok(())
    });
}

#[test]
fn bad_media_settings_are_refused_at_start() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("wagate.toml", "[media]\nallow_networks = [\"10.0.0.0/33\"]\n")?;
        let err = Config::load(None).unwrap_err();
        assert!(format!("{err:#}").contains("10.0.0.0/33"), "{err:#}");
        jail.create_file("wagate.toml", "[media]\njpeg_quality = 0\n")?;
        assert!(Config::load(None).is_err());
        Ok(())
    });
}

#[test]
fn new_sessions_get_the_configured_caps_and_quiet_hours() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "wagate.toml",
            "[throttle]\nmin_delay_ms = 8000\nmax_delay_ms = 22000\nper_minute = 4\nper_day = 500\n\
             quiet_hours = { start = \"22:00\", end = \"08:00\", time_zone = \"Asia/Beirut\" }\n",
        )?;
        let defaults = Config::load(None).expect("loads").gateway().expect("gateway").session_defaults;
        assert_eq!((defaults.cap_per_minute, defaults.cap_per_hour, defaults.cap_per_day), (Some(4), None, Some(500)));
        assert_eq!(defaults.quiet_hours.expect("quiet hours").time_zone, "Asia/Beirut");
        jail.set_env("WAGATE_THROTTLE__QUIET_HOURS__TIME_ZONE", "Nowhere/Atall");
        assert!(Config::load(None).is_err());
        Ok(())
    });
}

#[test]
fn media_can_go_to_an_s3_bucket_whose_secret_never_shows() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("WAGATE_MEDIA__S3__ENDPOINT", "http://127.0.0.1:9000");
        jail.set_env("WAGATE_MEDIA__S3__BUCKET", "media");
        jail.set_env("WAGATE_MEDIA__S3__ACCESS_KEY", "AKIA1");
        jail.create_file("s3-secret", "very-secret-value\n")?;
        jail.set_env("WAGATE_MEDIA__S3__SECRET_KEY_FILE", "s3-secret");
        let config = Config::load(None).expect("loads");
        let s3 = config.media().expect("media settings").s3.expect("S3 is set");
        assert_eq!((s3.bucket.as_str(), s3.region.as_str(), s3.path_style), ("media", "us-east-1", true));
        assert_eq!(s3.secret_key, "very-secret-value");
        assert!(!format!("{s3:?}").contains("very-secret"), "Debug hides the secret");

        jail.set_env("WAGATE_MEDIA__S3__SECRET_KEY", "another");
        assert!(Config::load(None).is_err(), "a secret and a secret file at once");

        jail.clear_env();
        let s3 = |endpoint: &str| {
            format!(
                "[media.s3]\nendpoint = \"{endpoint}\"\nbucket = \"media\"\naccess_key = \"A\"\nsecret_key = \"S\"\n"
            )
        };
        jail.create_file("wagate.toml", &s3("https://s3.eu-central-1.amazonaws.com"))?;
        assert!(Config::load(None).expect("loads").media().unwrap().s3.is_some());
        jail.create_file("wagate.toml", &s3("ftp://example.com"))?;
        assert!(Config::load(None).is_err(), "only http(s) endpoints");
        jail.create_file(
            "wagate.toml",
            "[media.s3]\nendpoint = \"http://x\"\nbucket = \"media\"\naccess_key = \"A\"\n",
        )?;
        assert!(Config::load(None).is_err(), "no secret");
        Ok(())
    });
}

#[test]
fn the_key_can_come_from_a_file() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("key.txt", "wag_from_a_file_1234567890\n")?;
        jail.set_env("WAGATE_API_KEY_FILE", "key.txt");
        let config = Config::load(None).expect("loads");
        assert_eq!(config.api_key.unwrap().expose_secret(), "wag_from_a_file_1234567890");
        Ok(())
    });
}
