[package]
name = "upcloud_prov"
edition = "v0.11.3"
version = "0.0.1"
description = "UpCloud servers (legacy KCL layout)"
